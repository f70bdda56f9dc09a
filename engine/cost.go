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
	if p := x.Req.CustomCost; p != nil {
		c := p.Cost(u)
		return &c, true
	}
	c, ok := prices.Cost(x.Req.Slug, x.Req.Model, u)
	if !ok {
		return nil, false
	}
	return &c, false
}
