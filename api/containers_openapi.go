package api

// addContainerPaths adds the /containers operations and their schemas to
// the OpenAPI document.
func addContainerPaths(paths, schemas obj) {
	name := pathParam("name", "container name")
	paths["/api/v1/containers"] = obj{
		"get": obj{"tags": []string{"containers"}, "summary": "Declared containers (containers/*.yaml) joined with their container hosts' reports",
			"operationId": "listContainers", "security": bearer,
			"responses": obj{"200": resp("The containers", ref("Containers")), "401": errResp("Unauthenticated")}},
		"post": obj{"tags": []string{"containers"}, "summary": "Declare a container (operator): a validated commit of containers/<name>.yaml; host and address are chosen when omitted; ?wait=applied waits until it runs healthy and its server is UP on the zone's HAProxy hosts",
			"operationId": "addContainer", "security": bearer, "parameters": mutationParams(nil),
			"requestBody": jsonBody(ref("ContainerInput")), "responses": mutationResponses()},
	}
	paths["/api/v1/containers/{name}"] = obj{
		"get": obj{"tags": []string{"containers"}, "summary": "One declared container with its host's report", "operationId": "getContainer",
			"security": bearer, "parameters": []obj{name},
			"responses": obj{"200": resp("The container", ref("ContainerView")), "401": errResp("Unauthenticated"), "404": errResp("Not declared")}},
		"delete": obj{"tags": []string{"containers"}, "summary": "Remove a container (operator): its file is deleted; its host stops and removes it",
			"operationId": "deleteContainer", "security": bearer, "parameters": append(mutationParams(nil), name), "responses": mutationResponses()},
	}
	strList := array(obj{"type": "string"})
	schemas["ContainerInput"] = objSchema([]string{"name", "image", "zone"}, obj{
		"name": str("container name (also the HAProxy server name)"), "image": str("Docker image reference, e.g. nginx:alpine"), "zone": str(""),
		"host": str("container host; default: the zone's least loaded"), "address": str("default: the lowest free address of the zone's containers.cidr"),
		"port": integer("default 80"), "pullPolicy": obj{"type": "string", "enum": []string{"Never", "IfNotPresent"}},
		"restart": obj{"type": "string", "enum": []string{"no", "always", "unless-stopped", "on-failure"}},
		"command": strList, "args": strList,
		"env":    array(objSchema([]string{"name"}, obj{"name": str(""), "value": str("")})),
		"limits": objSchema(nil, obj{"milliCPU": integer(""), "memoryMiB": integer("")}),
		"health": objSchema(nil, obj{"path": str(""), "port": integer(""), "expectStatus": integer(""), "interval": str(""), "timeout": str(""), "retries": integer("")}),
		"serve":  objSchema([]string{"backend"}, obj{"backend": str("default: the default backend of the zone's first HTTP frontend"), "port": integer(""), "weight": integer("")}),
	})
	schemas["ContainerView"] = objSchema([]string{"name", "image", "zone", "host", "address", "port", "state", "restarts"}, obj{
		"name": str(""), "image": str(""), "zone": str(""), "host": str(""), "address": str(""), "port": integer(""),
		"serve":      objSchema(nil, obj{"backend": str(""), "port": integer(""), "weight": integer("")}),
		"state":      str("running, exited, created, restarting, missing, image-missing, error, unknown or pending"),
		"health":     obj{"type": "string", "enum": []string{"none", "starting", "healthy", "unhealthy"}},
		"started_at": obj{"type": "string", "format": "date-time"}, "restarts": integer(""), "error": str(""),
	})
	schemas["Containers"] = objSchema([]string{"revision", "containers"}, obj{"revision": str(""), "containers": array(ref("ContainerView"))})
	if m, ok := schemas["Mutation"].(obj); ok {
		if props, ok := m["properties"].(obj); ok {
			props["container"] = obj{"type": "object", "description": "POST /containers: the container as written (host and address chosen)"}
			props["serving"] = obj{"type": "object", "description": "POST /containers?wait=applied: the container's state and whether each HAProxy host of its zone has its server UP"}
		}
	}
}
