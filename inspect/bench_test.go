package inspect

import "testing"

func BenchmarkParsePortSpec(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePortSpec("22,80,443/tcp,3000-3100/udp,msdtc", fakeNames); err != nil {
			b.Fatal(err)
		}
	}
}
