// bench_test.go measures Lookup+Cost, which runs once per finished request, and checks
// that the exact and alias paths do not allocate.
package pricing

import "testing"

var benchCases = []struct{ name, provider, model string }{
	{"exact", "openai", "gpt-4o-mini"},
	{"dated", "anthropic", "claude-3-5-sonnet-20241022"},
	{"bedrock", "aws-bedrock", "us.anthropic.claude-3-5-sonnet-20241022-v2:0"},
	{"compat", "compat", "workers-ai/@cf/meta/llama-3.3-70b-instruct-fp8-fast"},
	{"unknown", "openai", "gpt-9-ultra-2030-01-01"},
}

func BenchmarkLookupCost(b *testing.B) {
	tab := Default()
	u := Usage{In: 1200, Out: 350, CachedIn: 1024}
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var sum float64
			for b.Loop() {
				v, _ := tab.Cost(c.provider, c.model, u)
				sum += v
			}
			_ = sum
		})
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tab := Default()
	for _, c := range benchCases {
		if n := testing.AllocsPerRun(100, func() { tab.Cost(c.provider, c.model, Usage{In: 10, Out: 10}) }); n != 0 {
			t.Errorf("%s: %v allocations per Lookup+Cost", c.name, n)
		}
	}
	// A media model priced by its units (quality and size variants) allocates nothing either.
	units := Units{N: 2, Known: true, Quality: "hd", Size: "1024x1792"}
	if n := testing.AllocsPerRun(100, func() {
		if p, ok := tab.Lookup("openai", "dall-e-3"); ok {
			p.Priced(Usage{}, units)
		}
	}); n != 0 {
		t.Errorf("media: %v allocations per Lookup+Priced", n)
	}
}

func BenchmarkLookupPricedMedia(b *testing.B) {
	tab := Default()
	units := Units{N: 2, Known: true, Quality: "hd", Size: "1792x1024"}
	b.ReportAllocs()
	var sum float64
	for b.Loop() {
		if p, ok := tab.Lookup("openai", "dall-e-3"); ok {
			v, _ := p.Priced(Usage{}, units)
			sum += v
		}
	}
	_ = sum
}
