package devchain

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	gethversion "github.com/ethereum/go-ethereum/version"
)

// GethModule is the go-ethereum module path.
const GethModule = "github.com/ethereum/go-ethereum"

// EnvGeth names the environment variable that, when set, is the geth binary
// to use instead of the cached build.
const EnvGeth = "DDC_GITOPS_GETH"

// versionCheckTimeout bounds one `geth version` run.
const versionCheckTimeout = 30 * time.Second

// GethVersion is the go-ethereum module version this program was built with
// (v1.17.10 for example): from the binary's build information when it lists
// the module (a `go build` binary), else from go-ethereum's own version
// constants for a stable release (test binaries carry no dependency list).
func GethVersion() (string, error) {
	bi, _ := debug.ReadBuildInfo()
	return gethVersionFrom(bi, gethversion.Major, gethversion.Minor, gethversion.Patch, gethversion.Meta)
}

func gethVersionFrom(bi *debug.BuildInfo, major, minor, patch int, meta string) (string, error) {
	if bi != nil {
		for _, d := range bi.Deps {
			if d.Path != GethModule {
				continue
			}
			if d.Replace != nil {
				if d.Replace.Version == "" {
					return "", fmt.Errorf("finding the go-ethereum version: %s is replaced by the directory %s, which `go install` cannot build; set %s to a geth binary", GethModule, d.Replace.Path, EnvGeth)
				}
				if d.Replace.Path != GethModule {
					return "", fmt.Errorf("finding the go-ethereum version: %s is replaced by %s@%s; set %s to a geth binary", GethModule, d.Replace.Path, d.Replace.Version, EnvGeth)
				}
				return d.Replace.Version, nil
			}
			if d.Version == "" || d.Version == "(devel)" {
				break
			}
			return d.Version, nil
		}
	}
	if meta != "stable" {
		return "", fmt.Errorf("finding the go-ethereum version: this binary has no module information and go-ethereum %d.%d.%d is not a stable release (%q); set %s to a geth binary", major, minor, patch, meta, EnvGeth)
	}
	return fmt.Sprintf("v%d.%d.%d", major, minor, patch), nil
}

// DefaultCacheDir is where built tools are cached: $XDG_CACHE_HOME/ddc-gitops,
// else ~/.cache/ddc-gitops.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory: %w", err)
	}
	return filepath.Join(dir, "ddc-gitops"), nil
}

// Geth returns the path of a geth binary: $DDC_GITOPS_GETH when set;
// else CACHE/geth/VERSION/geth when it exists and `geth version` names
// VERSION (the go-ethereum version of GethVersion); else it builds that one
// with `go install github.com/ethereum/go-ethereum/cmd/geth@VERSION` (a few
// minutes, once) into a temporary directory beside it that is renamed into
// place, so an interrupted build leaves no half binary. cacheDir "" is
// DefaultCacheDir. progress (optional) is told before a build starts.
func Geth(ctx context.Context, cacheDir string, progress func(format string, args ...any)) (string, error) {
	if env := os.Getenv(EnvGeth); env != "" {
		return gethFromEnv(ctx, env)
	}
	version, err := GethVersion()
	if err != nil {
		return "", err
	}
	if cacheDir == "" {
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	return cachedGeth(ctx, cacheDir, version, progress)
}

// gethFromEnv checks that the binary named by $DDC_GITOPS_GETH runs.
func gethFromEnv(ctx context.Context, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving %s=%s: %w", EnvGeth, path, err)
	}
	if _, err := runGethVersion(ctx, abs); err != nil {
		return "", fmt.Errorf("checking %s=%s: %w", EnvGeth, path, err)
	}
	return abs, nil
}

// cachedGeth is Geth without the environment override, for a given version.
func cachedGeth(ctx context.Context, cacheDir, version string, progress func(string, ...any)) (string, error) {
	root := filepath.Join(cacheDir, "geth")
	final := filepath.Join(root, version)
	bin := filepath.Join(final, "geth")
	if gethIsVersion(ctx, bin, version) == nil {
		return bin, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("geth %s is not built yet (%s) and there is no `go` in PATH to build it: install Go (https://go.dev/dl) or set %s to a geth binary", version, bin, EnvGeth)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("creating the geth cache %s: %w", root, err)
	}
	tmp, err := os.MkdirTemp(root, "."+version+".build-")
	if err != nil {
		return "", fmt.Errorf("creating a build directory for geth: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if progress != nil {
		progress("building geth %s (first run only, a few minutes) into %s", version, final)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, goTool, "install", GethModule+"/cmd/geth@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("building geth %s: %w", version, ctx.Err())
		}
		return "", fmt.Errorf("building geth %s with `go install %s/cmd/geth@%s`: %w\n%s", version, GethModule, version, err, tail(out.Bytes(), 4000))
	}
	if err := gethIsVersion(ctx, filepath.Join(tmp, "geth"), version); err != nil {
		return "", fmt.Errorf("checking the geth just built: %w", err)
	}
	// Replace a stale or broken cache entry, then move the build into place.
	if err := os.RemoveAll(final); err != nil {
		return "", fmt.Errorf("removing the stale geth cache %s: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another build may have won the race: use it if it is good.
		if gethIsVersion(ctx, bin, version) == nil {
			return bin, nil
		}
		return "", fmt.Errorf("moving the geth build into %s: %w", final, err)
	}
	if progress != nil {
		progress("built geth %s in %s", version, time.Since(start).Round(time.Second))
	}
	return bin, nil
}

// gethIsVersion checks that bin runs and `bin version` names version (its
// numeric part: a pseudo-version v1.2.4-0.2025... is checked as 1.2.4).
func gethIsVersion(ctx context.Context, bin, version string) error {
	if _, err := os.Stat(bin); err != nil {
		return err
	}
	out, err := runGethVersion(ctx, bin)
	if err != nil {
		return err
	}
	want := "Version: " + versionCore(version)
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == want || strings.HasPrefix(line, want+"-") {
			return nil
		}
	}
	return fmt.Errorf("%s does not report %q:\n%s", bin, want, tail([]byte(out), 500))
}

// runGethVersion runs `bin version` and returns its output.
func runGethVersion(ctx context.Context, bin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, versionCheckTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("running `%s version`: %w\n%s", bin, err, tail(out, 500))
	}
	return string(out), nil
}

// versionCore is the numeric part of a module version: v1.17.10-0.2025... -> 1.17.10.
func versionCore(v string) string {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	return v
}

// tail is the last n bytes of b, as text.
func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = append([]byte("..."), b[len(b)-n:]...)
	}
	return string(b)
}
