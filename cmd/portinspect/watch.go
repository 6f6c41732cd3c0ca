package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/spf13/cobra"

	"github.com/portinspect/portinspect/inspect"
	"github.com/portinspect/portinspect/platform"
)

type watchOptions struct {
	filters  filterFlags
	ports    []string
	all      bool
	interval time.Duration
	count    int
	forTime  time.Duration
	out      outputFlags

	query inspect.Query
}

func newCmdWatch(f *Factory) *cobra.Command {
	opts := &watchOptions{}
	cmd := &cobra.Command{
		Use:   "watch [PORTSPEC...]",
		Short: "Watch listeners (or every socket) come and go",
		Long: `Watch the sockets the filters select, listeners unless -a, refreshed every
--interval: each socket that appears or goes is one line, "added" or
"removed", with its owners. -o json writes one JSON object per line per
change, flushed as it happens ({"event", "time", "socket"}), so that
"portinspect watch -o json | jq" works.

On a terminal the view is live and full-screen: a socket that appeared is
marked + (and bold) for a few refreshes, one that went stays marked - (and
struck through); the status line counts them. Keys: q quit, p pause, f filter
(a port or part of a process name), s sort (port, process, PID), arrows to
select, Enter the port's answer.

Each refresh lists the sockets without owners; owners are looked up only for
sockets not seen before, and kept while the socket lasts. Watching polls: a
listener that lives shorter than the interval can be missed.

--count N ends the watch after N changes, --for D after D; Ctrl-C ends it
too. Exit status: 0 on a normal end, 2 bad input, 3 the sockets could not be
read.`,
		Example: `  portinspect watch
  portinspect watch -o json | jq -c 'select(.event == "added")'
  portinspect watch 8080 -o json --count 1      # wait for a listener on 8080`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parse(f, args); err != nil {
				return err
			}
			return watchRun(f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.filters.tcp, "tcp", "t", false, "TCP sockets only")
	fl.BoolVarP(&opts.filters.udp, "udp", "u", false, "UDP sockets only")
	fl.BoolVarP(&opts.filters.ipv4, "ipv4", "4", false, "IPv4 sockets only")
	fl.BoolVarP(&opts.filters.ipv6, "ipv6", "6", false, "IPv6 sockets only")
	fl.BoolVarP(&opts.filters.allNetns, "all-namespaces", "A", false, "sockets of every network namespace (Linux; needs root)")
	fl.StringVar(&opts.filters.netns, "netns", "", "sockets of one network namespace (Linux; needs root)")
	fl.BoolVarP(&opts.all, "all", "a", false, "every socket, connections too, not only listeners")
	fl.BoolVarP(&opts.filters.listening, "listening", "l", false, "listeners only (the default)")
	fl.DurationVar(&opts.interval, "interval", time.Second, "time between refreshes")
	fl.IntVar(&opts.count, "count", 0, "end after this many changes (0: no limit)")
	fl.DurationVar(&opts.forTime, "for", 0, "end after this long (0: no limit)")
	opts.out.add(cmd, formatTable, formatJSON)
	return cmd
}

func (o *watchOptions) parse(f *Factory, args []string) error {
	q, err := socketQuery(f, &o.out, &o.filters, args)
	if err != nil {
		return err
	}
	switch {
	case o.all && o.filters.listening:
		return &inspect.UsageError{Msg: "watch takes -l (listeners, the default) or -a (every socket), not both"}
	case o.interval < 10*time.Millisecond:
		return &inspect.UsageError{Msg: fmt.Sprintf("invalid --interval %s: want 10ms or more", o.interval)}
	case o.count < 0:
		return &inspect.UsageError{Msg: fmt.Sprintf("invalid --count %d: want 0 or more", o.count)}
	case o.forTime < 0:
		return &inspect.UsageError{Msg: fmt.Sprintf("invalid --for %s: want a duration of 0 or more", o.forTime)}
	}
	q.Listening = !o.all
	q.Detail = platform.DetailFull
	o.query = q
	return nil
}

func watchRun(f *Factory, opts *watchOptions) error {
	resumeCollection()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if opts.forTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.forTime)
		defer cancel()
	}
	return withMachine(f, opts.out.format, func(src inspect.Source) error {
		w := inspect.NewWatcher(src, opts.query)
		if _, err := w.Refresh(ctx, time.Now()); err != nil {
			return err
		}
		if f.IO.OutTTY && opts.out.format == formatTable {
			screen, err := tcell.NewScreen()
			if err != nil {
				return err
			}
			return runWatchTUI(ctx, f, src, w, opts, screen)
		}
		if opts.out.format != formatJSON {
			fmt.Fprintf(f.IO.ErrOut, "Watching %s every %s (a listener shorter-lived than that can be missed); Ctrl-C ends it.\n",
				platform.Plural(len(w.Sockets()), "socket"), opts.interval)
		}
		jw := newJSONWriter()
		seen := 0
		ticker := time.NewTicker(opts.interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-ticker.C:
			}
			events, err := w.Refresh(ctx, time.Now())
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			for _, e := range events {
				if err := writeWatchEvent(f.IO.Out, jw, e, opts.out.format); err != nil {
					return err
				}
				if seen++; opts.count > 0 && seen >= opts.count {
					return nil
				}
			}
		}
	})
}

// writeWatchEvent writes one change: a JSON line, or a line of text with
// the socket and its owners.
func writeWatchEvent(out io.Writer, jw *jsonWriter, e inspect.WatchEvent, format outputFormat) error {
	s := e.Socket
	if format != formatJSON {
		owner := describeOwners(&s)
		_, err := fmt.Fprintf(out, "%s %-7s %s %s %s %s\n", e.Time.Format("15:04:05"), e.Event, s.Protocol, escapeText(s.LocalName()), s.State, owner)
		return err
	}
	sock, err := jw.appendSocket(nil, &s)
	if err != nil {
		return err
	}
	var line bytes.Buffer
	line.WriteString(`{"event":` + strconv.Quote(e.Event) + `,"time":` + strconv.Quote(e.Time.UTC().Format(time.RFC3339Nano)) + `,"socket":`)
	if err := json.Compact(&line, sock); err != nil {
		return err
	}
	line.WriteString("}\n")
	_, err = out.Write(line.Bytes())
	return err
}

// describeOwners names a socket's holders for a line of text.
func describeOwners(s *inspect.Socket) string {
	if len(s.Processes) > 0 {
		return describeProcesses(s.Processes)
	}
	return describeNoOwner(s.Owners)
}
