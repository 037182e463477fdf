package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/build"
)

// ImageFile is one file of an image built FROM scratch.
type ImageFile struct {
	Path string // absolute path in the image
	Mode int64
	Data []byte
}

// BuildFromScratch builds image tag FROM scratch holding one static
// executable at /name (the image's entrypoint) with the engine's classic
// builder: no registry, no BuildKit.
func (e *Engine) BuildFromScratch(ctx context.Context, tag, name string, exe []byte) error {
	return e.BuildImage(ctx, tag, []ImageFile{{Path: "/" + name, Mode: 0o755, Data: exe}}, []string{"/" + name}, nil)
}

// reImageEnv is what BuildImage accepts as an ENV line.
var reImageEnv = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_./:,=-]*$`)

// BuildImage builds image tag FROM scratch with files, entrypoint and env
// (NAME=value), with the engine's classic builder.
func (e *Engine) BuildImage(ctx context.Context, tag string, files []ImageFile, entrypoint, env []string) error {
	var df strings.Builder
	df.WriteString("FROM scratch\n")
	for _, kv := range env {
		if !reImageEnv.MatchString(kv) {
			return fmt.Errorf("building %s: environment %q: want NAME=value of letters, digits and _./:,=-", tag, kv)
		}
		fmt.Fprintf(&df, "ENV %s\n", kv)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode int64, data []byte) error {
		return errors.Join(tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data))}), func() error { _, err := tw.Write(data); return err }())
	}
	for i, f := range files {
		if !path.IsAbs(f.Path) || strings.ContainsAny(f.Path, " \"\n\\") || path.Clean(f.Path) != f.Path {
			return fmt.Errorf("building %s: bad image path %q", tag, f.Path)
		}
		src := fmt.Sprintf("f%d", i)
		if err := add(src, f.Mode, f.Data); err != nil {
			return fmt.Errorf("building %s: %w", tag, err)
		}
		fmt.Fprintf(&df, "COPY %s %s\n", src, f.Path)
	}
	ep, err := json.Marshal(entrypoint)
	if err != nil {
		return err
	}
	fmt.Fprintf(&df, "ENTRYPOINT %s\n", ep)
	if err := add("Dockerfile", 0o644, []byte(df.String())); err != nil {
		return fmt.Errorf("building %s: %w", tag, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("building %s: %w", tag, err)
	}
	resp, err := e.c.ImageBuild(ctx, &buf, build.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1})
	if err != nil {
		return fmt.Errorf("building %s: %w", tag, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("building %s: reading the build output: %w", tag, err)
		}
		if m.Error != "" {
			return fmt.Errorf("building %s: %s", tag, m.Error)
		}
	}
}
