// Command testsrv is the program of the test image: an HTTP server on
// $PORT answering /health with $HEALTH_STATUS (default 200) and / with
// $NAME. It is built static and copied into an image FROM scratch.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
)

func main() {
	status := 200
	if s := os.Getenv("HEALTH_STATUS"); s != "" {
		status, _ = strconv.Atoi(s)
	}
	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, os.Getenv("NAME")) })
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
