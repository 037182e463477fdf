// Package deploy holds the tests of the deployment path: the Debian package
// (`make package`, deploy/package and deploy/debian) installed into a real
// Debian 12 root filesystem, and the Ansible playbook (deploy/ansible) run
// against such roots over the chroot connection, then the installed agent
// run from a root against a git server in a network namespace. Nothing
// here is linked into the ddc-gitops binary.
package deploy
