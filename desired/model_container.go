package desired

// KindContainer is the kind of containers/<name>.yaml.
const KindContainer = "Container"

// ContainersDir holds one Container file per container.
const ContainersDir = "containers"

// ZoneContainers declares a zone's container hosts and the address range
// its containers take their addresses from (the zone file's `containers:`).
type ZoneContainers struct {
	// CIDR is the containers' address range, inside the zone's network.
	CIDR string `yaml:"cidr"`
	// Gateway is the default route handed to containers (optional; an
	// address of the zone's network outside CIDR).
	Gateway string           `yaml:"gateway"`
	Hosts   []*ContainerHost `yaml:"hosts"`
}

// ContainerHost is a host of a zone that runs containers (dockerd and a
// ddc-gitops agent in the container role).
type ContainerHost struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	// Interface is the host's interface on the zone network: the parent of
	// the containers' macvlan network.
	Interface string `yaml:"interface"`
}

// Container is containers/<name>.yaml: one container a container host runs
// through its Docker engine.
type Container struct {
	Kind string `yaml:"kind"`
	// Name is the Docker container name and the HAProxy server name.
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	// PullPolicy is Never (default: the image must be on the host) or
	// IfNotPresent (pull it when it is missing).
	PullPolicy string `yaml:"pullPolicy"`
	Zone       string `yaml:"zone"`
	// Host is the container host of the zone that runs it.
	Host string `yaml:"host"`
	// Address is the container's address on the zone network, inside the
	// zone's containers.cidr.
	Address string `yaml:"address"`
	// Command replaces the image's entrypoint, Args its command.
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []EnvVar `yaml:"env"`
	// Port is the port the container serves on.
	Port    int              `yaml:"port"`
	Limits  ContainerLimits  `yaml:"limits"`
	Restart string           `yaml:"restart"`
	Health  *ContainerHealth `yaml:"health"`
	// Serve makes the running container a server of a backend on the
	// HAProxy hosts of its zone.
	Serve *Serve `yaml:"serve"`

	File string `yaml:"-"`
}

// EnvVar is one environment variable of a container.
type EnvVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// ContainerLimits are a container's resource limits; 0 means unlimited.
type ContainerLimits struct {
	// MilliCPU is the CPU limit in thousandths of a CPU (500 = half a CPU).
	MilliCPU int `yaml:"milliCPU"`
	// MemoryMiB is the memory limit in MiB.
	MemoryMiB int `yaml:"memoryMiB"`
}

// ContainerHealth is an HTTP health check the agent runs against the
// container (inside its network namespace).
type ContainerHealth struct {
	Path string `yaml:"path"`
	// Port defaults to the container's port.
	Port         int      `yaml:"port"`
	ExpectStatus int      `yaml:"expectStatus"`
	Interval     Duration `yaml:"interval"`
	Timeout      Duration `yaml:"timeout"`
	// Retries is how many failed checks in a row make it unhealthy.
	Retries int `yaml:"retries"`
}

// Serve puts a container into a backend.
type Serve struct {
	Backend string `yaml:"backend"`
	// Port defaults to the container's port.
	Port   int  `yaml:"port"`
	Weight *int `yaml:"weight"`
}

// Pull policies and restart policies a Container accepts.
const (
	PullNever        = "Never"
	PullIfNotPresent = "IfNotPresent"
)

// RestartPolicies are the restart policies a Container accepts (Docker's).
func RestartPolicies() []string { return []string{"no", "always", "unless-stopped", "on-failure"} }

// Defaults for containers.
const (
	DefaultContainerRestart       = "unless-stopped"
	DefaultContainerHealthRetries = 3
)
