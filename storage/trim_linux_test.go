package storage

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestParseMapsLine(t *testing.T) {
	cases := []struct {
		line       string
		start, end uintptr
		path       string
		shared, ok bool
	}{
		{"7f00a000-7f00c000 rw-s 00000000 08:01 1234 /data/badger/000001.sst", 0x7f00a000, 0x7f00c000, "/data/badger/000001.sst", true, true},
		{"7f00a000-7f00c000 r--p 00000000 08:01 1234 /usr/lib/libc.so", 0x7f00a000, 0x7f00c000, "/usr/lib/libc.so", false, true},
		{"7f00a000-7f00c000 rw-s 00000000 08:01 1234 /data/my dir/000002.vlog", 0x7f00a000, 0x7f00c000, "/data/my dir/000002.vlog", true, true},
		{"7f00a000-7f00c000 rw-p 00000000 00:00 0", 0, 0, "", false, false},
		{"garbage", 0, 0, "", false, false},
		{"7f00c000-7f00a000 rw-s 00000000 08:01 1 /x.sst", 0, 0, "", false, false},
	}
	for _, tc := range cases {
		s, e, p, sh, ok := parseMapsLine([]byte(tc.line))
		if ok != tc.ok || (ok && (s != tc.start || e != tc.end || p != tc.path || sh != tc.shared)) {
			t.Errorf("%q: got %x-%x %q shared=%v ok=%v", tc.line, s, e, p, sh, ok)
		}
	}
}

// A store's mapped files are found and trimmed; data read afterwards is intact.
func TestTrimKeepsData(t *testing.T) {
	s, dir := openOnDisk(t)
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if n := trimMappings(filepath.Join(dir, ".")); n == 0 {
		t.Error("no mapping of the store's files was trimmed")
	}
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte("k"))
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if string(v) != "v" {
				t.Errorf("value after trim = %q", v)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Writing through a mapped file brings its pages into the resident set, which fileResident sees
// grow, and trimming them takes it back down.
func TestFileResidentFollowsTrim(t *testing.T) {
	s, dir := openOnDisk(t)
	// Stop the store's own trimming, which would race with this test's.
	close(s.stop)
	s.wg.Wait()
	s.stop = make(chan struct{})
	before, ok := fileResident()
	if !ok || before <= 0 {
		t.Fatalf("fileResident = %d, %v", before, ok)
	}
	// Write enough through the value log (values over the threshold) to map many pages.
	big := make([]byte, 64<<10)
	for i := 0; i < 256; i++ {
		key := []byte{byte(i >> 8), byte(i)}
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, big) }); err != nil {
			t.Fatal(err)
		}
	}
	grown, _ := fileResident()
	if grown-before < trimGrowth {
		t.Fatalf("file-backed resident memory grew by %d bytes after writing 16 MB, want at least %d", grown-before, trimGrowth)
	}
	trimMappings(dir)
	after, _ := fileResident()
	if after >= grown-trimGrowth {
		t.Errorf("trim left %d bytes of %d resident, want at least %d fewer", after, grown, trimGrowth)
	}
}

func TestTrimDue(t *testing.T) {
	cases := []struct {
		since time.Duration
		grown int64
		known bool
		want  bool
	}{
		{trimEvery, 0, true, true},          // the regular trim
		{trimCheck, trimGrowth, true, true}, // grown enough: at once
		{trimCheck, trimGrowth - 1, true, false},
		{trimCheck, trimGrowth, false, false}, // growth unknown: only the regular trim
		{trimEvery, 0, false, true},
		{trimCheck, -trimGrowth, true, false}, // shrank (the kernel reclaimed pages)
	}
	for _, c := range cases {
		if got := trimDue(c.since, c.grown, c.known); got != c.want {
			t.Errorf("trimDue(%s, %d, %v) = %v, want %v", c.since, c.grown, c.known, got, c.want)
		}
	}
}

// openOnDisk opens a store in a temporary directory, closed when the test ends.
func openOnDisk(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}
