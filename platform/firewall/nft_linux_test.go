package firewall

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/google/nftables"

	"github.com/portinspect/portinspect/internal/testtools"
)

// TestVerdictAttr reads verdict map elements' data as google/nftables
// leaves it, from a live rule set: tcp dport vmap { 9000 : accept,
// 9001 : drop, 9002 : jump ufw-user-input }.
func TestVerdictAttr(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want string
	}{
		{[]byte{8, 0, 1, 0, 0, 0, 0, 1}, "accept"},
		{[]byte{8, 0, 1, 0, 0, 0, 0, 0}, "drop"},
		{[]byte{8, 0, 1, 0, 255, 255, 255, 253, 19, 0, 2, 0, 117, 102, 119, 45, 117, 115, 101, 114, 45, 105, 110, 112, 117, 116, 0, 0}, "jump ufw-user-input"},
	} {
		a := verdictAttr(tt.in)
		if a == nil || actionText(*a) != tt.want {
			t.Errorf("%v: %+v, want %s", tt.in, a, tt.want)
		}
	}
	if verdictAttr([]byte{4, 0, 2, 0}) != nil || verdictAttr([]byte{1, 2}) != nil {
		t.Error("data without a verdict code read as a verdict")
	}
}

func FuzzVerdictAttr(f *testing.F) {
	f.Add([]byte{8, 0, 1, 0, 255, 255, 255, 253, 19, 0, 2, 0, 117, 102, 119, 45, 117, 115, 101, 114, 45, 105, 110, 112, 117, 116, 0, 0})
	f.Add([]byte{8, 0, 1, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if a := verdictAttr(b); a != nil && a.Kind != ActionJump && a.Kind != ActionGoto && a.Chain != "" {
			t.Errorf("%x: a chain for %+v", b, a)
		}
	})
}

// TestUfwNftablesLive restores ufw's rule set (testdata/ufw.*, as
// iptables-save printed it) with iptables-nft-restore into a network
// namespace of its own, reads it back from the kernel as nftables rules,
// iptables-nft's x_tables matches among them, and expects the verdicts
// that the same rules parsed from iptables-save's text get.
func TestUfwNftablesLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	testtools.Need(t, "ip", "iptables-nft-restore", "ip6tables-nft-restore")
	name := fmt.Sprintf("pifwufw%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	for file, restore := range map[string]string{"testdata/ufw.iptables-save": "iptables-nft-restore", "testdata/ufw.ip6tables-save": "ip6tables-nft-restore"} {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ip", "netns", "exec", name, restore)
		cmd.Stdin = f
		out, err := cmd.CombinedOutput()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v\n%s", restore, err, out)
		}
	}
	ns, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	rs, err := ReadNftables(nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range ufwJudged {
		j := Judge(rs, Packet{Family: tt.fam, Proto: tt.proto, Dport: tt.port})
		if j.Verdict != tt.verdict || !slices.Equal(j.Conditions, tt.conds) {
			t.Errorf("%d/%d over %v: %s %v (%s); want %s %v", tt.port, tt.proto, tt.fam, j.Verdict, j.Conditions, j.Reason, tt.verdict, tt.conds)
		}
	}
}

// BenchmarkReadNftables reads the rule set of the namespace it runs in:
// run it in one with ufw's (ip netns exec NAME go test -bench
// ReadNftables ./platform/firewall).
func BenchmarkReadNftables(b *testing.B) {
	for b.Loop() {
		if _, err := ReadNftables(); err != nil {
			b.Skip(err)
		}
	}
}
