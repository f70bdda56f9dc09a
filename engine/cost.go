// cost.go prices a finished exchange: its token usage times the model's price from the
// pricing table (engine/pricing), or the request's cf-aig-custom-cost. A cache hit costs
// nothing; a model with no known price has no cost (nil), which is not the same as 0.
package engine

import "github.com/switchyard/switchyard/engine/pricing"

// prices is the table the gateway prices requests with.
var prices = pricing.Default()

// Cost is the exchange's cost in USD and whether it came from cf-aig-custom-cost.
func (x *Exchange) Cost() (*float64, bool) {
	if x.Cached {
		zero := 0.0
		return &zero, false
	}
	u := pricing.Usage{In: x.Usage.In, Out: x.Usage.Out, CachedIn: x.TokensCached}
	custom := x.Req.CustomCost != nil
	var p pricing.Price
	if custom {
		p = *x.Req.CustomCost
	} else {
		var ok bool
		if p, ok = prices.Lookup(x.Req.Slug, x.Req.Model); !ok {
			return nil, false
		}
	}
	if x.Status < 200 || x.Status >= 300 {
		p.Request = 0 // a refused request pays for the tokens it used, not the per-request fee
	}
	c := p.Cost(u)
	return &c, custom
}
