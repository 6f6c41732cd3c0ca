package knownports

import (
	"cmp"
	"slices"
	"sort"
)

// span is the port range [low, high] of the item at position pos of some list.
type span struct {
	low, high uint16
	pos       int32
}

// spanIndex finds the spans that cover a port in O(log n + k): a binary
// search for the last span starting at or before the port, then a walk back
// that stops as soon as no earlier span reaches the port. IANA's ranges are
// short and seldom nest, so k stays at a few spans.
type spanIndex struct {
	spans []span   // sorted by low, then pos
	reach []uint16 // reach[i] is the highest high of spans[:i+1]
}

func newSpanIndex(spans []span) spanIndex {
	byLow := func(a, b span) int {
		return cmp.Or(cmp.Compare(a.low, b.low), cmp.Compare(a.pos, b.pos))
	}
	// IANA's file is already in port order; checking is cheaper than sorting.
	if !slices.IsSortedFunc(spans, byLow) {
		slices.SortFunc(spans, byLow)
	}
	reach := make([]uint16, len(spans))
	var hi uint16
	for i, s := range spans {
		hi = max(hi, s.high)
		reach[i] = hi
	}
	return spanIndex{spans: spans, reach: reach}
}

// lookup appends to dst the positions of the spans covering port, in
// increasing order and each once, and returns the extended slice.
func (x *spanIndex) lookup(dst []int32, port uint16) []int32 {
	start := len(dst)
	i := sort.Search(len(x.spans), func(i int) bool { return x.spans[i].low > port })
	for i--; i >= 0 && x.reach[i] >= port; i-- {
		if x.spans[i].high >= port {
			dst = append(dst, x.spans[i].pos)
		}
	}
	slices.Sort(dst[start:])
	return dst[:start+len(slices.Compact(dst[start:]))]
}
