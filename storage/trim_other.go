//go:build !linux

// trim_other.go: dropping mapped pages (trim_linux.go) is Linux-only; elsewhere the
// kernel's own accounting applies.
package storage

func trimMappings(string) int64 { return 0 }

func fileResident() (int64, bool) { return 0, false }
