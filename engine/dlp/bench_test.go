// bench_test.go: benchmarks of the built-in scanner (1 KB clean, 1 KB with findings, 1 MB
// throughput), of Redact and of Text.
package dlp

import (
	"strings"
	"testing"
)

func benchScan(b *testing.B, text []byte) {
	s := allScanner(b)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Scan(text)
	}
}

func BenchmarkScan1KBClean(b *testing.B)    { benchScan(b, []byte(ordinaryText)) }
func BenchmarkScan1KBFindings(b *testing.B) { benchScan(b, []byte(findingsText)) }

// 1 MB of mixed prose, code and numbers (no findings): throughput.
func BenchmarkScan1MB(b *testing.B) {
	var sb strings.Builder
	chunks := []string{ordinaryText, "\n", `{"id": 12345, "items": [1, 2, 3], "price": 19.99, "date": "2024-06-11T10:30:00Z"}`, "\n",
		"The UUID 550e8400-e29b-41d4-a716-446655440000 and sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"}
	for sb.Len() < 1<<20 {
		for _, c := range chunks {
			sb.WriteString(c)
		}
	}
	benchScan(b, []byte(sb.String()[:1<<20]))
}

func BenchmarkRedact1KBFindings(b *testing.B) {
	s := allScanner(b)
	text := []byte(findingsText)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Redact(text)
	}
}

func BenchmarkTextJSON1KB(b *testing.B) {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":` +
		quote(ordinaryText[:900]) + `}]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Text(body, "application/json")
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`"`, `\"`, "\n", `\n`, `\`, `\\`).Replace(s) + `"`
}
