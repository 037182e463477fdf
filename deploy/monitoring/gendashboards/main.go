// Command gendashboards writes the fleet's Grafana dashboards
// (monitoring.Dashboards) as JSON into a directory, by default
// deploy/monitoring/dashboards when run from the repository root:
//
//	go run ./deploy/monitoring/gendashboards
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ddc-gitops/ddc-gitops/deploy/monitoring"
)

func main() {
	dir := flag.String("out", filepath.Join("deploy", "monitoring", "dashboards"), "directory to write the dashboards into")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gendashboards:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, d := range monitoring.Dashboards() {
		b, err := monitoring.Build(d)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, d.File)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}
