package examples

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// TestAlertExpressions evaluates the alerts' expressions with Prometheus'
// query engine over 60 hours of a made-up fleet, scraped every minute, to
// check that each fires when docs/fleet.md says it does and only then.
func TestAlertExpressions(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile("fleet/portinspect-alerts.yml", false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	exprs := make(map[string]string)
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			exprs[r.Alert] = r.Expr
		}
	}

	const h, end = time.Hour, 60 * time.Hour
	var db fakeTSDB
	listener := func(instance, port, exposure, process string) []string {
		return []string{"__name__", "portinspect_listener", "instance", instance, "job", "node",
			"port", port, "protocol", "tcp", "address", map[string]string{"loopback": "127.0.0.1", "all": "0.0.0.0"}[exposure],
			"exposure", exposure, "process", process, "service", ""}
	}
	audited := func(instance string) []string {
		return []string{"__name__", "portinspect_audit_timestamp_seconds", "instance", instance, "job", "node"}
	}
	// old: monitored from the start; sshd all along, and from 30h on a
	// new listener beyond loopback and one on loopback. Its audits stop at
	// 40h: the file stays, with its last timestamp.
	db.add(listener("old", "22", "all", "sshd"), 0, end, 1)
	db.add(listener("old", "3372", "all", "tipd"), 30*h, end, 1)
	db.add(listener("old", "8080", "loopback", "python3"), 30*h, end, 1)
	db.addAudits(audited("old"), 0, end, 40*h)
	// fresh: monitored from 28h on, with a listener beyond loopback.
	db.add(listener("fresh", "80", "all", "nginx"), 28*h, end, 1)
	db.addAudits(audited("fresh"), 28*h, end, end)
	for _, sev := range []string{"info", "low", "medium", "high", "critical"} {
		v := 0.0
		if sev == "high" {
			v = 2
		}
		db.add([]string{"__name__", "portinspect_findings", "instance", "old", "job", "node", "severity", sev}, 0, end, v)
	}

	tests := []struct {
		alert string
		at    time.Duration
		want  []string // the firing series' instance and port
	}{
		{"PortinspectHighFinding", 10 * h, []string{"old"}},
		{"PortinspectNewListener", 29 * h, nil},
		{"PortinspectNewListener", 31 * h, []string{"old 3372"}},                    // not fresh's, not the loopback one
		{"PortinspectNewListener", 30*h + 24*h - time.Minute, []string{"old 3372"}}, // still new a day later…
		{"PortinspectNewListener", 30*h + 24*h + 10*time.Minute, nil},               // …then resolved
		{"PortinspectAuditStale", 40*h + 25*time.Minute, nil},
		{"PortinspectAuditStale", 40*h + 35*time.Minute, []string{"old"}},
	}
	engine := promql.NewEngine(promql.EngineOpts{
		Logger: slog.New(slog.DiscardHandler), MaxSamples: 1e7, Timeout: time.Minute,
		LookbackDelta: 5 * time.Minute, Parser: p,
	})
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s at %v", tt.alert, tt.at), func(t *testing.T) {
			q, err := engine.NewInstantQuery(context.Background(), &db, nil, exprs[tt.alert], time.Unix(0, 0).Add(tt.at))
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			res := q.Exec(context.Background())
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			vec, err := res.Vector()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range vec {
				id := s.Metric.Get("instance")
				if port := s.Metric.Get("port"); port != "" {
					id += " " + port
				}
				got = append(got, id)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("fires for %q, want %q", got, tt.want)
			}
		})
	}
}

// fakeTSDB is a storage.Queryable over series held in memory.
type fakeTSDB struct{ series []storage.Series }

// add adds a series sampled every minute in [from, to) with value v.
func (db *fakeTSDB) add(lbls []string, from, to time.Duration, v float64) {
	var samples []chunks.Sample
	for t := from; t < to; t += time.Minute {
		samples = append(samples, sample{t: t.Milliseconds(), f: v})
	}
	db.series = append(db.series, storage.NewListSeries(labels.FromStrings(lbls...), samples))
}

// addAudits adds portinspect_audit_timestamp_seconds sampled every minute
// in [from, to), for audits every 5 minutes until the last one before
// stop.
func (db *fakeTSDB) addAudits(lbls []string, from, to, stop time.Duration) {
	var samples []chunks.Sample
	for t := from; t < to; t += time.Minute {
		audit := min(t, stop).Truncate(5 * time.Minute)
		samples = append(samples, sample{t: t.Milliseconds(), f: audit.Seconds()})
	}
	db.series = append(db.series, storage.NewListSeries(labels.FromStrings(lbls...), samples))
}

func (db *fakeTSDB) Querier(int64, int64) (storage.Querier, error) {
	return &storage.MockQuerier{SelectMockFunction: func(_ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
		var out []storage.Series
		for _, s := range db.series {
			if matchesAll(s.Labels(), ms) {
				out = append(out, s)
			}
		}
		slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
		return &seriesSet{series: out}
	}}, nil
}

func matchesAll(ls labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

type seriesSet struct {
	series []storage.Series
	next   int
}

func (s *seriesSet) Next() bool                        { s.next++; return s.next <= len(s.series) }
func (s *seriesSet) At() storage.Series                { return s.series[s.next-1] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

// sample is a float sample.
type sample struct {
	t int64
	f float64
}

func (s sample) T() int64                      { return s.t }
func (s sample) ST() int64                     { return 0 }
func (s sample) F() float64                    { return s.f }
func (s sample) H() *histogram.Histogram       { return nil }
func (s sample) FH() *histogram.FloatHistogram { return nil }
func (s sample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s sample) Copy() chunks.Sample           { return s }
