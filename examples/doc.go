// Package examples holds example portinspect policies (*.yaml, for
// `portinspect check --policy`) and, under fleet/, the files docs/fleet.md
// describes for running portinspect across many machines: an Ansible
// playbook, a systemd service and timer for node_exporter's textfile
// collector, Prometheus alerting rules with their promtool unit tests, and
// an Alertmanager inhibit rule. The package has no code; its tests check
// every file with the tool that reads it (promtool, amtool,
// systemd-analyze) where installed. cmd/portinspect's TestFleet tests run
// the playbook, node_exporter, Prometheus and Alertmanager for real.
package examples
