package desired

import (
	"fmt"
	"io/fs"
)

// decodeContainers decodes containers/*.yaml into f.Containers.
func (l loader) decodeContainers(fsys fs.FS, f *Fleet, src *Source, errs *Errors) {
	files := yamlFiles(fsys, ContainersDir, errs)
	cs := make([]*Container, len(files))
	results := l.decodeFiles(fsys, files, KindContainer, func(i int) any {
		cs[i] = &Container{File: files[i]}
		return cs[i]
	})
	for i, r := range results {
		if r.merge(files[i], src, errs) {
			f.Containers = append(f.Containers, cs[i])
		}
	}
}

// dropContainerNulls is dropNulls for the container parts of the model.
func dropContainerNulls(f *Fleet, report func(file, path string)) {
	for _, z := range f.Zones {
		if z.Containers != nil {
			z.Containers.Hosts = compact(z.Containers.Hosts, func(i int) { report(z.File, fmt.Sprintf("containers.hosts[%d]", i)) })
		}
	}
}

// setContainerDefaults is SetDefaults for containers.
func setContainerDefaults(f *Fleet) {
	for _, c := range f.Containers {
		setStr(&c.PullPolicy, PullNever)
		setStr(&c.Restart, DefaultContainerRestart)
		if h := c.Health; h != nil {
			setStr(&h.Path, DefaultCheckPath)
			setIntAt(&h.Port, c.Port, f.Source, c.File, "health.port")
			setIntAt(&h.ExpectStatus, 200, f.Source, c.File, "health.expectStatus")
			setDurAt(&h.Interval, DefaultCheckInterval, f.Source, c.File, "health.interval")
			setDurAt(&h.Timeout, DefaultCheckInterval/2, f.Source, c.File, "health.timeout")
			setIntAt(&h.Retries, DefaultContainerHealthRetries, f.Source, c.File, "health.retries")
		}
		if s := c.Serve; s != nil {
			setIntAt(&s.Port, c.Port, f.Source, c.File, "serve.port")
		}
	}
}
