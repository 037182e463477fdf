package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// logFormatUsage is the help of every --log-format flag (newLogger).
const logFormatUsage = "log format: text, json, or auto (text on a terminal, json otherwise)"

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
