// procstat.go reads a process's CPU time and memory (peak and current RSS, file-backed
// and anonymous) from /proc (Linux only; elsewhere the bench reports them as unavailable).
package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on every Linux
// (what `getconf CLK_TCK` prints).
const userHZ = 100

// cpuTime returns the user+system CPU time pid has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after "(comm)": state is field 3, utime 14 and stime 15 (1-based).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// peakRSS returns pid's high-water resident set size (VmHWM) in MB.
func peakRSS(pid int) (float64, error) {
	mb, err := statusMB(pid, "VmHWM")
	if err != nil {
		return 0, err
	}
	return mb[0], nil
}

// statusMB reads the named memory fields of /proc/PID/status (VmHWM, VmRSS, RssFile,
// RssAnon, ...), in MB, in the order asked.
func statusMB(pid int, fields ...string) ([]float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	mb := make([]float64, len(fields))
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if i := slices.Index(fields, name); ok && i >= 0 {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return nil, fmt.Errorf("/proc/%d/status: bad %s %q", pid, name, v)
			}
			mb[i] = kb / 1024
			found++
		}
	}
	if found != len(fields) {
		return nil, fmt.Errorf("/proc/%d/status: not all of %s", pid, strings.Join(fields, ", "))
	}
	return mb, nil
}
