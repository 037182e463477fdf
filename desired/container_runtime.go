package desired

import "slices"

// ContainerRuntime is the part of a Container the engine fixes when it
// creates the container: changing any of it needs a new container (the
// agent replaces it; plan says so). The health check, port and serve can
// change without one.
type ContainerRuntime struct {
	Image     string   `json:"image"`
	Restart   string   `json:"restart"`
	Address   string   `json:"address"`
	Command   []string `json:"command"`
	Args      []string `json:"args"`
	Env       []string `json:"env"` // NAME=value, in file order
	MilliCPU  int      `json:"milliCPU"`
	MemoryMiB int      `json:"memoryMiB"`
}

// Runtime returns c's runtime part.
func (c *Container) Runtime() ContainerRuntime {
	env := make([]string, 0, len(c.Env))
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	return ContainerRuntime{Image: c.Image, Restart: c.Restart, Address: c.Address, Command: c.Command, Args: c.Args,
		Env: env, MilliCPU: c.Limits.MilliCPU, MemoryMiB: c.Limits.MemoryMiB}
}

// Changed names the fields that differ between a and b, in a fixed order.
func (a ContainerRuntime) Changed(b ContainerRuntime) []string {
	var out []string
	add := func(diff bool, name string) {
		if diff {
			out = append(out, name)
		}
	}
	add(a.Image != b.Image, "image")
	add(a.Address != b.Address, "address")
	add(!slices.Equal(a.Command, b.Command), "command")
	add(!slices.Equal(a.Args, b.Args), "args")
	add(!slices.Equal(a.Env, b.Env), "env")
	add(a.MilliCPU != b.MilliCPU || a.MemoryMiB != b.MemoryMiB, "limits")
	add(a.Restart != b.Restart, "restart")
	return out
}
