package main

import (
	"bufio"
	"bytes"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// writeProseTable writes a short table for people whose prose columns
// (their indexes in prose) wrap so that the table fits width: audit's
// findings, lookup's ports. tablewriter lays it out, borderless and
// aligned as the socket tables are; those stay on writeTable, which
// handles a busy host's 24,000 rows in milliseconds where tablewriter
// takes most of a second (docs/PERFORMANCE.md).
func writeProseTable(out io.Writer, header []string, rows [][]string, width int, prose ...int) error {
	const gap = 2 // spaces between columns
	natural := make([]int, len(header))
	for _, row := range append([][]string{header}, rows...) {
		for i, cell := range row {
			natural[i] = max(natural[i], displayWidth(cell))
		}
	}
	// The columns that are not prose keep their width; the prose ones
	// share what is left, in proportion to what they would take.
	left, want := width, 0
	for i, n := range natural {
		if isProse(prose, i) {
			want += n
		} else {
			left -= n
		}
		if i < len(natural)-1 { // the last column's padding is trimmed
			left -= gap
		}
	}
	caps := tw.NewMapper[int, int]()
	if want > left {
		for _, i := range prose {
			caps.Set(i, max(12, natural[i]*left/want)+gap)
		}
	}
	padding := tw.CellPadding{Global: tw.Padding{Right: "  ", Overwrite: true}}
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenRows: tw.Off, BetweenColumns: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off, ShowTop: tw.Off, ShowBottom: tw.Off, ShowFooterLine: tw.Off},
			},
		})),
		tablewriter.WithConfig(tablewriter.Config{
			Header: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoFormat: tw.Off},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Padding:    padding,
			},
			Row: tw.CellConfig{
				Formatting:   tw.CellFormatting{AutoWrap: tw.WrapNormal},
				Alignment:    tw.CellAlignment{Global: tw.AlignLeft},
				Padding:      padding,
				ColMaxWidths: tw.CellWidth{PerColumn: caps},
			},
		}),
	)
	t.Header(header)
	if err := t.Bulk(rows); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}
	// tablewriter pads every line to the table's width.
	w := bufio.NewWriter(out)
	for line := range bytes.Lines(buf.Bytes()) {
		w.Write(bytes.TrimRight(line, " \n"))
		w.WriteByte('\n')
	}
	return w.Flush()
}

func isProse(prose []int, i int) bool {
	for _, p := range prose {
		if p == i {
			return true
		}
	}
	return false
}
