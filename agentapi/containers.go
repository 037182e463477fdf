package agentapi

import "time"

// Container states an agent in the container role reports.
const (
	ContainerRunning      = "running"       // running (see Health)
	ContainerExited       = "exited"        // stopped (by hand, or it crashed) and not yet recreated
	ContainerCreated      = "created"       // created, not started
	ContainerRestarting   = "restarting"    // the engine restarts it (restart policy)
	ContainerMissing      = "missing"       // declared but absent (with --drift=warn, not recreated)
	ContainerImageMissing = "image-missing" // its image is not on the host and could not be pulled
	ContainerError        = "error"         // the engine refused an operation; see Error
	ContainerUnknown      = "unknown"       // the engine is unreachable
)

// ContainerStatus is one declared container as its container host runs it.
type ContainerStatus struct {
	Name    string `json:"name"`
	Image   string `json:"image"`
	Address string `json:"address,omitempty"`
	// ID is the Docker container ID (empty when there is none).
	ID    string `json:"id,omitempty"`
	State string `json:"state"`
	// Health is none, starting, healthy or unhealthy (the agent's HTTP check).
	Health    string    `json:"health"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	// Restarts counts the engine's restarts of this container plus the
	// agent's recreations of it since the agent started.
	Restarts int `json:"restarts"`
	// Revision is the revision the running container was created at.
	Revision string `json:"revision,omitempty"`
	Error    string `json:"error,omitempty"`
}
