// Package examples holds example portinspect policies (*.yaml, for
// `portinspect check --policy`) and, under fleet/, the files docs/fleet.md
// describes for running portinspect across many machines: an Ansible
// playbook, a systemd service and timer for node_exporter's textfile
// collector, and Prometheus alerting rules. The package has no code; its
// tests check that every file parses as the tool that reads it would
// parse it.
package examples
