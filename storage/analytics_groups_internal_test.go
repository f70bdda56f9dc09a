// analytics_groups_internal_test.go checks the rollup encoding with the cached and failed
// split: it round-trips, buckets written before it decode with the split zero, and a
// bucket with it stays readable by the older decoder's rules (the fields are trailing).
package storage

import (
	"encoding/binary"
	"reflect"
	"testing"
)

func TestRollupEncodingSplit(t *testing.T) {
	cases := []struct {
		name string
		r    rollup
	}{
		{"plain", rollup{Requests: 3, Errors: 1, Cached: 1, TokensIn: 30, TokensOut: 60, Priced: 2, CostUnits: 5, Hist: []histBin{{4, 3}}}},
		{"dlp only", rollup{Requests: 1, DLPFlagged: 1, Hist: []histBin{}}},
		{"split without dlp", rollup{Requests: 3, Errors: 1, Cached: 1, TokensIn: 30, TokensOut: 60, CostUnits: 5,
			Hist: []histBin{{4, 3}}, CachedTokensIn: 10, CachedTokensOut: 20, ErroredTokensIn: 10, ErroredTokensOut: 20, CachedCostUnits: -1, ErroredCostUnits: 2}},
		{"split and dlp", rollup{Requests: 1, DLPBlocked: 1, Hist: []histBin{}, CachedTokensOut: 7}},
	}
	for _, c := range cases {
		var got rollup
		if err := got.decode(c.r.appendTo(nil)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(got, c.r) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.r)
		}
	}
	// A bucket written before the split (version 1, six counters, cost, histogram, DLP).
	old := []byte{rollupVersion}
	for _, v := range []uint64{2, 1, 1, 40, 80, 2} {
		old = binary.AppendUvarint(old, v)
	}
	old = binary.AppendVarint(old, 9)
	old = append(old, 1, 5)
	old = binary.AppendUvarint(old, 2)
	old = binary.AppendUvarint(old, 1)
	old = binary.AppendUvarint(old, 0)
	var r rollup
	if err := r.decode(old); err != nil {
		t.Fatal(err)
	}
	want := rollup{Requests: 2, Errors: 1, Cached: 1, TokensIn: 40, TokensOut: 80, Priced: 2, CostUnits: 9, Hist: []histBin{{5, 2}}, DLPFlagged: 1}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("old bucket: got %+v, want %+v", r, want)
	}
	// Truncated split fields are an error, not a silent zero.
	b := cases[2].r.appendTo(nil)
	if err := new(rollup).decode(b[:len(b)-1]); err == nil {
		t.Error("a truncated bucket decoded")
	}
}
