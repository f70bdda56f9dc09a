// trim_linux.go keeps Badger's memory-mapped files from counting as the process's memory.
// Badger reads and writes its tables, memtable logs and value logs through shared file
// mappings, and every page it has touched stays in the process's resident set (RssFile)
// until the kernel is short of memory, so RSS grows with the size of the store. Every few
// seconds the pages of those mappings are dropped from the process's page tables with
// madvise(MADV_DONTNEED): for a shared file mapping that loses nothing (the data stays in
// the page cache, which the kernel reclaims as it needs); a later access maps it again.
package storage

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// trimMappings drops the resident pages of the shared mappings of Badger's files under dir
// and returns how many bytes of mappings it went over.
func trimMappings(dir string) int64 {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		start, end, path, shared, ok := parseMapsLine(sc.Bytes())
		if !ok || !shared || !strings.HasPrefix(path, abs+string(filepath.Separator)) || !badgerFile(path) {
			continue
		}
		// The raw call: the region is not Go memory, so it is passed as addresses.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED); errno == 0 {
			total += int64(end - start)
		}
	}
	return total
}

// fileResident is the process's resident file-backed and shared memory in bytes (the third
// field of /proc/self/statm, in pages), read cheaply enough to check often.
func fileResident() (int64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := bytes.Fields(b)
	if len(f) < 3 {
		return 0, false
	}
	pages, err := strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}

// badgerFile: the files Badger maps (tables, memtable write-ahead logs, value logs).
func badgerFile(path string) bool {
	switch filepath.Ext(path) {
	case ".sst", ".mem", ".vlog":
		return true
	}
	return false
}

// parseMapsLine reads "start-end perms offset dev inode path" from /proc/self/maps.
func parseMapsLine(line []byte) (start, end uintptr, path string, shared, ok bool) {
	fields := bytes.Fields(line)
	if len(fields) < 6 {
		return 0, 0, "", false, false
	}
	addr := bytes.SplitN(fields[0], []byte("-"), 2)
	if len(addr) != 2 || len(fields[1]) < 4 {
		return 0, 0, "", false, false
	}
	s, err1 := strconv.ParseUint(string(addr[0]), 16, 64)
	e, err2 := strconv.ParseUint(string(addr[1]), 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, "", false, false
	}
	return uintptr(s), uintptr(e), string(bytes.Join(fields[5:], []byte(" "))), fields[1][3] == 's', true
}
