package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// TestDeleteLeftLink: Cleanup's link delete succeeds for a link that is
// already gone (the root end of a veth whose namespace was just deleted
// vanishes on its own), deletes one that is there, and still reports a
// link it could not delete.
func TestDeleteLeftLink(t *testing.T) {
	// netnstest imports this package: its helpers, inline.
	if _, err := exec.LookPath("ip"); os.Geteuid() != 0 || err != nil {
		t.Skip("skipping: needs root and iproute2's ip")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b [3]byte
	_, _ = rand.Read(b[:])
	prefix := "dg" + hex.EncodeToString(b[:])
	t.Cleanup(func() { _ = Cleanup(context.Background(), prefix) })

	if err := deleteLeftLink(ctx, prefix+"-gone"); err != nil {
		t.Fatalf("deleting a link that is gone: %v", err)
	}

	// The lab's uplink: a veth whose peer lives in a namespace.
	ns, up := prefix+"-rt", prefix+"-up"
	if err := Add(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if _, err := IP(ctx, "link", "add", up, "type", "veth", "peer", "name", "eth0", "netns", ns); err != nil {
		t.Fatal(err)
	}
	if err := deleteLeftLink(ctx, up); err != nil {
		t.Fatalf("deleting %s: %v", up, err)
	}
	names, err := LinkNames(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, up) {
		t.Fatalf("%s survived its delete", up)
	}

	// A link that exists but cannot be deleted is still an error.
	if err := deleteLeftLink(ctx, "lo"); err == nil {
		t.Fatal("deleting lo reported success")
	}
}
