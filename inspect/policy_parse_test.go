package inspect

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/portinspect/portinspect/platform"
)

func parsePolicyString(t *testing.T, src string) (*Policy, error) {
	t.Helper()
	return ParsePolicy("policy.yaml", strings.NewReader(src), fakeNames)
}

func TestParsePolicy(t *testing.T) {
	const src = `# policy for a web server
default: deny            # listeners no rule names fail
require:
  - port: 443/tcp
    exposure: all
    owner: nginx
    reason: the site
  - port: ssh
allow:
  - port: 53
    exposure: loopback
  - port: "8000-8100,9000/udp"
    owner: /usr/local/bin/app server
deny:
  - port: msdtc
    reason: >
      MSDTC TIP,
      deprecated
  - port: 135
    exposure: Beyond-Loopback
`
	got, err := parsePolicyString(t, src)
	if err != nil {
		t.Fatal(err)
	}
	r := func(lo, hi uint16, tcp, udp bool) PortRange {
		return PortRange{PortRange: platform.PortRange{Low: lo, High: hi, TCP: tcp, UDP: udp}}
	}
	named := func(name string, pr PortRange) PortRange {
		pr.Service = name
		return pr
	}
	want := &Policy{
		Name:    "policy.yaml",
		Default: DefaultDeny,
		Require: []PolicyRule{
			{Spec: "443/tcp", Ports: PortSet{r(443, 443, true, false)}, Exposure: OnAll, Owner: "nginx", Reason: "the site", Line: 4},
			{Spec: "ssh", Ports: PortSet{named("ssh", r(22, 22, true, true))}, Line: 8},
		},
		Allow: []PolicyRule{
			{Spec: "53", Ports: PortSet{r(53, 53, true, true)}, Exposure: OnLoopback, Line: 10},
			{Spec: "8000-8100,9000/udp", Ports: PortSet{r(8000, 8100, false, true), r(9000, 9000, false, true)}, Owner: "/usr/local/bin/app server", Line: 12},
		},
		Deny: []PolicyRule{
			{Spec: "msdtc", Ports: PortSet{named("msdtc", r(3372, 3372, true, false))}, Reason: "MSDTC TIP, deprecated", Line: 15},
			{Spec: "135", Ports: PortSet{r(135, 135, true, true)}, Exposure: BeyondLoopback, Line: 19},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n %+v\nwant\n %+v", got, want)
	}
}

func TestParsePolicySmall(t *testing.T) {
	tests := []struct {
		name, src string
		want      Policy
	}{
		{"empty", "", Policy{}},
		{"comments only", "# nothing yet\n\n# really\n", Policy{}},
		{"null document", "~\n", Policy{}},
		{"document marker", "---\n", Policy{}},
		{"lists with nothing under them", "require:\nallow: []\ndeny:  # all commented out\n#  - port: 22\n", Policy{}},
		{"default allow", "default: allow\n", Policy{Default: DefaultAllow}},
		{"default in capitals", "default: DENY\n", Policy{Default: DefaultDeny}},
		{"null fields", "deny:\n  - port: 22\n    exposure:\n    owner: ~\n    reason:\n",
			Policy{Deny: []PolicyRule{{Spec: "22", Ports: PortSet{{PortRange: platform.PortRange{Low: 22, High: 22, TCP: true, UDP: true}}}, Line: 2}}}},
		{"flow style", "deny: [{port: 22, exposure: any}]\n",
			Policy{Deny: []PolicyRule{{Spec: "22", Ports: PortSet{{PortRange: platform.PortRange{Low: 22, High: 22, TCP: true, UDP: true}}}, Line: 1}}}},
		{"aliases", "require:\n  - &ssh {port: 22/tcp, reason: admin}\ndeny:\n  - *ssh\n",
			Policy{
				Require: []PolicyRule{{Spec: "22/tcp", Ports: PortSet{{PortRange: platform.PortRange{Low: 22, High: 22, TCP: true}}}, Reason: "admin", Line: 2}},
				Deny:    []PolicyRule{{Spec: "22/tcp", Ports: PortSet{{PortRange: platform.PortRange{Low: 22, High: 22, TCP: true}}}, Reason: "admin", Line: 4}},
			}},
		{"UTF-8 byte order mark", "\ufeffdefault: deny\n", Policy{Default: DefaultDeny}},
		{"CRLF", "default: deny\r\ndeny:\r\n  - port: 1\r\n",
			Policy{Default: DefaultDeny, Deny: []PolicyRule{{Spec: "1", Ports: PortSet{{PortRange: platform.PortRange{Low: 1, High: 1, TCP: true, UDP: true}}}, Line: 3}}}},
		{"whole range", "allow:\n  - port: 1-65535/udp\n",
			Policy{Allow: []PolicyRule{{Spec: "1-65535/udp", Ports: PortSet{{PortRange: platform.PortRange{Low: 1, High: 65535, UDP: true}}}, Line: 2}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePolicyString(t, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Name = "policy.yaml"
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got\n %+v\nwant\n %+v", *got, tt.want)
			}
		})
	}
}

// TestParsePolicyUTF16 reads a file as Windows PowerShell 5.1's Out-File
// writes it: UTF-16LE with a byte order mark.
func TestParsePolicyUTF16(t *testing.T) {
	src := "default: deny\r\ndeny:\r\n  - port: 3372\r\n"
	b := []byte{0xff, 0xfe}
	for _, c := range src {
		b = append(b, byte(c), 0)
	}
	got, err := ParsePolicy("policy.yaml", strings.NewReader(string(b)), fakeNames)
	if err != nil {
		t.Fatal(err)
	}
	if got.Default != DefaultDeny || len(got.Deny) != 1 || got.Deny[0].Spec != "3372" || got.Deny[0].Line != 3 {
		t.Errorf("got %+v", got)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	const help = "want a port 1-65535, a range like 3000-3100, either with /tcp or /udp, a comma list, a service name like ssh, or ADDRESS:PORT"
	tests := []struct{ name, src, want string }{
		{"unknown top-level key", "default: deny\nrequires:\n  - port: 22\n",
			`policy.yaml:2: unknown field "requires": want default, require, allow, deny, reachable or filtered`},
		{"unknown rule key", "require:\n  - port: 22\n    exposures: all\n",
			`policy.yaml:3: require[0]: unknown field "exposures": want port, exposure, owner or reason`},
		{"unknown key in the second rule", "deny:\n  - port: 22\n  - port: 23\n    Reason: telnet\n",
			`policy.yaml:4: deny[1]: unknown field "Reason": want port, exposure, owner or reason`},
		{"merge key", "deny:\n  - <<: {port: 22}\n",
			`policy.yaml:2: deny[0]: unknown field "<<": want port, exposure, owner or reason`},
		{"missing port", "allow:\n  - port: 53\n  - exposure: loopback\n    owner: dnsmasq\n",
			`policy.yaml:3: allow[1]: missing field "port": ` + help},
		{"null port", "allow:\n  - port:\n",
			`policy.yaml:2: allow[0].port: want a port 1-65535, a range like 3000-3100, either with /tcp or /udp, a comma list, a service name like ssh, or ADDRESS:PORT, found nothing`},
		{"empty port", "allow:\n  - port: ''\n",
			`policy.yaml:2: allow[0].port: empty port spec: ` + help},
		{"bad port", "require:\n  - port: 22\n  - port: abc\n",
			`policy.yaml:3: require[1].port: invalid port spec "abc": not a port number or a known service name: ` + help},
		{"port 0", "deny:\n  - port: 0\n", `policy.yaml:2: deny[0].port: invalid port "0": ports are 1-65535`},
		{"port too big", "deny:\n  -\n    reason: x\n    port: 65536\n", `policy.yaml:4: deny[0].port: invalid port "65536": ports are 1-65535`},
		{"backwards range", "deny:\n  - port: 10-5\n", `policy.yaml:2: deny[0].port: invalid port range "10-5": the first port must not exceed the last (did you mean 5-10?)`},
		{"bad protocol", "deny:\n  - port: 80/sctp\n", `policy.yaml:2: deny[0].port: invalid protocol "sctp" in "80/sctp": want tcp or udp`},
		{"hex port", "deny:\n  - port: 0x50\n", `policy.yaml:2: deny[0].port: invalid port spec "0x50": not a port number or a known service name: ` + help},
		{"port list", "deny:\n  - port: [22, 80]\n",
			`policy.yaml:2: deny[0].port: want a port 1-65535, a range like 3000-3100, either with /tcp or /udp, a comma list, a service name like ssh, or ADDRESS:PORT, found a list`},
		{"bad exposure", "require:\n  - port: 443\n    exposure: public\n",
			`policy.yaml:3: require[0].exposure: invalid exposure "public": want loopback, all, address, interface, beyond-loopback or any`},
		{"exposure list", "require:\n  - port: 443\n    exposure: [all]\n",
			`policy.yaml:3: require[0].exposure: want loopback, all, address, interface, beyond-loopback or any, found a list`},
		{"owner mapping", "require:\n  - port: 443\n    owner: {name: nginx}\n",
			`policy.yaml:3: require[0].owner: want a process name or executable path, found a mapping`},
		{"reason list", "deny:\n  - port: 23\n    reason:\n      - telnet\n",
			`policy.yaml:4: deny[0].reason: want a short explanation, found a list`},
		{"bad default", "# header\ndefault: block\n", `policy.yaml:2: default: invalid value "block": want allow or deny`},
		{"default missing", "default:\nrequire: []\n", `policy.yaml:1: default: want allow or deny, found nothing`},
		{"default boolean", "default: true\n", `policy.yaml:1: default: invalid value "true": want allow or deny`},
		{"default list", "default:\n  - deny\n", `policy.yaml:2: default: want allow or deny, found a list`},
		{"require a number", "require: 22\n", `policy.yaml:1: require: want a list of rules ("- port: …"), found "22"`},
		{"require a mapping", "require:\n  port: 22\n", `policy.yaml:2: require: want a list of rules ("- port: …"), found a mapping`},
		{"rule a string", "deny:\n  - 3372\n",
			`policy.yaml:2: deny[0]: want a rule, a mapping with the keys port, exposure, owner or reason, found "3372"`},
		{"rule null", "deny:\n  -\n  - port: 1\n",
			`policy.yaml:2: deny[0]: want a rule, a mapping with the keys port, exposure, owner or reason, found nothing`},
		{"top level a list", "- port: 22\n", `policy.yaml:1: want a mapping with the keys default, require, allow, deny, reachable or filtered, found a list`},
		{"top level a string", "deny 3372\n", `policy.yaml:1: want a mapping with the keys default, require, allow, deny, reachable or filtered, found "deny 3372"`},
		{"repeated top-level key", "deny: []\nallow: []\ndeny:\n  - port: 1\n", `policy.yaml:3: deny: repeated: first given on line 1`},
		{"repeated rule key", "deny:\n  - port: 1\n    port: 2\n", `policy.yaml:3: deny[0].port: repeated: first given on line 2`},
		{"non-scalar key", "deny:\n  - ? [port]\n    : 22\n", `policy.yaml:2: deny[0]: want a field name (port, exposure, owner or reason), found a list`},
		{"two documents", "default: deny\n---\ndefault: allow\n", `policy.yaml:2: found a second YAML document (---): want one`},
		{"syntax error", "deny:\n  - port: 22\n   reason: x\n", `policy.yaml:3: invalid YAML: did not find expected '-' indicator`},
		{"mapping values", "deny:\n  - port: 22\n    reason: a: b\n", `policy.yaml:3: invalid YAML: mapping values are not allowed in this context`},
		{"unterminated quote", "deny:\n  - port: 22\n  - port: 23\n    reason: \"telnet\n\n  - port: 24\n", `policy.yaml:4: invalid YAML: found unexpected end of stream`},
		{"error after a long block", "require:\n  - port: 22\n    reason: >\n      a\n      b\n  - port: 23\n   owner: x\n", `policy.yaml:7: invalid YAML: did not find expected '-' indicator`},
		{"unclosed flow", "deny: [\n  {port: 22}\n", `policy.yaml:2: invalid YAML: did not find expected ',' or ']'`},
		{"syntax error on line 1", "\tdefault: deny\n", `policy.yaml:1: invalid YAML: found character that cannot start any token`},
		{"tab indentation", "deny:\n\t- port: 22\n", `policy.yaml:2: invalid YAML: found character that cannot start any token`},
		{"unknown anchor", "deny:\n  - port: 1\n  - *rule\n", `policy.yaml:3: invalid YAML: unknown anchor 'rule' referenced`},
		{"invalid UTF-8", "deny:\n  - port: 1\n    reason: caf\xe9\n", `policy.yaml:3: invalid YAML: incomplete UTF-8 octet sequence`},
		{"control character", "deny:\n  - port: 1\n    reason: \x1b[31mred\n", `policy.yaml:3: invalid YAML: control characters are not allowed`},
		{"alias cycle", "deny: &d\n  - *d\n", `policy.yaml:2: deny[0]: want a rule, a mapping with the keys port, exposure, owner or reason, found a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePolicyString(t, tt.src)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v (%T), want a *UsageError", err, err)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParsePolicyReadError(t *testing.T) {
	_, err := ParsePolicy("policy.yaml", iotest.ErrReader(errors.New("is a directory")), fakeNames)
	var ue *UsageError
	if !errors.As(err, &ue) || err.Error() != "policy.yaml: cannot read: is a directory" {
		t.Errorf("err = %v", err)
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		"",
		"default: deny\nrequire:\n  - port: 443/tcp\n    exposure: all\n    owner: nginx\n    reason: the site\nallow:\n  - port: 53\n    exposure: loopback\ndeny:\n  - port: msdtc\n",
		"deny: [{port: '22,80', exposure: beyond-loopback}]\n",
		"require:\n  - &a {port: ssh}\ndeny:\n  - *a\n",
		"deny: &d\n  - *d\n",
		"require: 22\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		pol, err := ParsePolicy("policy.yaml", strings.NewReader(src), fakeNames)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("%q: %v is %T, want a *UsageError", src, err, err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("%q: the message has a line break: %q", src, err)
			}
			if !strings.HasPrefix(err.Error(), "policy.yaml") {
				t.Fatalf("%q: the message does not name the file: %q", src, err)
			}
			return
		}
		for _, rules := range [][]PolicyRule{pol.Require, pol.Allow, pol.Deny} {
			for _, r := range rules {
				if len(r.Ports) == 0 || r.Line < 1 {
					t.Fatalf("%q: rule %+v has no ports or no line", src, r)
				}
			}
		}
	})
}
