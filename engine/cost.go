// cost.go prices a finished exchange: its token usage times the model's price from the
// pricing table (engine/pricing), or the request's cf-aig-custom-cost. Media models are
// priced in their provider's unit (characters, minutes of audio, images, seconds of video)
// with the usage read from the answer or the request (engine/usage.ReadMedia). A cache
// hit costs nothing; a model with no known price, an answer that reported no token usage,
// or a media request whose usage cannot be read, has no cost (nil), which is not 0.
package engine

import (
	"github.com/switchyard/switchyard/engine/pricing"
	"github.com/switchyard/switchyard/engine/usage"
)

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
	failed := x.Status < 200 || x.Status >= 300
	if failed {
		p.Request = 0 // a refused request pays for the tokens it used, not the per-request fee
	} else if p.Media == nil && x.Usage.In <= 0 && x.Usage.Out <= 0 && (p.Input > 0 || p.Output > 0) {
		// An answer that reported no usage (an OpenAI stream without
		// stream_options.include_usage, a provider whose usage is not read): its cost is
		// unknown, not 0. The unified API estimates such counts instead (compat/estimate.go).
		return nil, custom
	}
	var n pricing.Units
	if p.Media != nil {
		if failed {
			zero := 0.0 // the provider made nothing and bills nothing
			return &zero, false
		}
		n = x.mediaUnits(p.Media.Unit)
	}
	c, ok := p.Priced(u, n)
	if !ok {
		return nil, custom
	}
	return &c, custom
}

// mediaKinds maps a price unit to the usage it is counted in.
var mediaKinds = [...]usage.Kind{
	pricing.UnitCharacter:   usage.Characters,
	pricing.UnitAudioMinute: usage.AudioSeconds,
	pricing.UnitImage:       usage.Images,
	pricing.UnitVideoSecond: usage.VideoSeconds,
}

// mediaUnits reads what a media request used, from the request body and the answer (the
// whole body, or the captured one when it was not cut).
func (x *Exchange) mediaUnits(unit pricing.Unit) pricing.Units {
	if int(unit) >= len(mediaKinds) || mediaKinds[unit] == 0 {
		return pricing.Units{} // per-token media models (gpt-4o-mini-tts, gpt-4o-transcribe) use the token counts
	}
	answer := x.Body
	if answer == nil && !x.RespTrunc {
		answer = x.RespBody
	}
	m := usage.ReadMedia(mediaKinds[unit], x.Req.Body, x.Req.CType, answer)
	return pricing.Units{N: m.Units, Known: m.Known, Quality: m.Quality, Size: m.Size}
}
