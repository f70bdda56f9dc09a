// units.go prices media models in the unit their provider bills: characters of
// text-to-speech input, minutes of transcribed audio, images (by quality and size) and
// seconds of generated video, next to the per-token prices of pricing.go.
package pricing

import (
	"fmt"
	"strings"
)

// Unit is what a model is billed by.
type Unit uint8

// The units of prices.json's "unit" field.
const (
	UnitToken       Unit = iota // "token": input, output, cached_input (the default)
	UnitCharacter               // "character": each character of the text to speak
	UnitAudioMinute             // "audio_minute": each minute of audio transcribed, counted to the second
	UnitImage                   // "image": each image generated
	UnitVideoSecond             // "video_second": each second of video generated
)

// tableUnit is prices.json's top-level "unit": per token unless an entry says otherwise.
const tableUnit = "per token unless the entry names its unit"

var unitNames = map[string]Unit{
	"token": UnitToken, "character": UnitCharacter, "audio_minute": UnitAudioMinute,
	"image": UnitImage, "video_second": UnitVideoSecond,
}

// String is the unit's name in prices.json.
func (u Unit) String() string {
	for name, v := range unitNames {
		if v == u {
			return name
		}
	}
	return fmt.Sprintf("unit(%d)", uint8(u))
}

// MediaPrice is the price of a media model in its unit.
type MediaPrice struct {
	// Unit is what the model is billed by. A UnitToken media model is priced by its
	// tokens but has no cost (unknown) when no token counts were read.
	Unit Unit
	// PerUnit is USD per Unit when no variant matches; HasPerUnit says it was given.
	PerUnit    float64
	HasPerUnit bool
	// Variants are per-unit prices by quality and size (images, video); nil when none.
	Variants []Variant
	// Default is the number of units assumed when neither the answer nor the request
	// says (a provider's default video length); 0 means none.
	Default float64
}

// Variant is a per-unit price for one quality, one size, or both ("" matches any).
type Variant struct {
	Quality, Size string
	Price         float64
}

// Units is what a media request used in its model's unit: N characters, seconds of audio
// (an audio_minute model is billed N/60), images or seconds of video, when Known; Quality
// and Size pick a price variant.
type Units struct {
	N             float64
	Known         bool
	Quality, Size string
}

// Priced prices a request by its tokens u or, for a media model in another unit, its
// units n, and says whether the cost is known. A token-priced model is always
// known, except a media one (Media) with no token counts; a model of another unit needs
// the count of units (or the entry's default) and a price for the quality and size.
func (p Price) Priced(u Usage, n Units) (float64, bool) {
	m := p.Media
	if m == nil {
		return p.tokens(u.In, u.Out, u.CachedIn), true
	}
	if m.Unit == UnitToken {
		if u.In <= 0 && u.Out <= 0 {
			return 0, false
		}
		return p.tokens(u.In, u.Out, u.CachedIn), true
	}
	count := n.N
	if !n.Known {
		if m.Default <= 0 {
			return 0, false
		}
		count = m.Default
	}
	per, ok := m.per(n.Quality, n.Size)
	if !ok {
		return 0, false
	}
	if m.Unit == UnitAudioMinute {
		count /= 60 // usage counts seconds of audio
	}
	return max(count, 0)*per + p.Request, true
}

// per finds the price of one unit: the variant with both quality and size, then one
// with the size alone, then one with the quality alone, then the entry's price.
func (p *MediaPrice) per(quality, size string) (float64, bool) {
	vs := p.Variants
	if quality != "" && size != "" {
		for _, v := range vs {
			if v.Quality != "" && v.Size != "" && strings.EqualFold(v.Quality, quality) && strings.EqualFold(v.Size, size) {
				return v.Price, true
			}
		}
	}
	if size != "" {
		for _, v := range vs {
			if v.Quality == "" && strings.EqualFold(v.Size, size) {
				return v.Price, true
			}
		}
	}
	if quality != "" {
		for _, v := range vs {
			if v.Size == "" && strings.EqualFold(v.Quality, quality) {
				return v.Price, true
			}
		}
	}
	return p.PerUnit, p.HasPerUnit
}

// unitPrice reads an entry with a unit other than token.
func (fp filePrice) unitPrice() (Price, error) {
	u, ok := unitNames[fp.Unit]
	if !ok {
		return Price{}, fmt.Errorf("unit %q: want token, character, audio_minute, image or video_second", fp.Unit)
	}
	if fp.Input != nil || fp.Output != nil || fp.CachedInput != nil {
		return Price{}, fmt.Errorf("input, output and cached_input are per token: a %s entry has price and variants", fp.Unit)
	}
	if fp.Price == nil && len(fp.Variants) == 0 {
		return Price{}, fmt.Errorf("a %s entry needs price or variants", fp.Unit)
	}
	m := &MediaPrice{Unit: u}
	p := Price{Media: m}
	if fp.Price != nil {
		m.PerUnit, m.HasPerUnit = *fp.Price, true
	}
	if fp.Request != nil {
		p.Request = *fp.Request
	}
	if fp.DefaultUnits != nil {
		if *fp.DefaultUnits < 0 {
			return Price{}, fmt.Errorf("negative default_units %v", *fp.DefaultUnits)
		}
		m.Default = *fp.DefaultUnits
	}
	var vs []Variant
	for key, v := range fp.Variants {
		q, s, err := variantKey(key)
		if err != nil {
			return Price{}, err
		}
		vs = append(vs, Variant{Quality: q, Size: s, Price: v})
	}
	m.Variants = vs
	for _, v := range append([]Variant{{Price: m.PerUnit}, {Price: p.Request}}, vs...) {
		if v.Price < 0 {
			return Price{}, fmt.Errorf("negative price %v", v.Price)
		}
		if u == UnitCharacter && v.Price >= 0.01 {
			return Price{}, fmt.Errorf("price %v is $10,000 per million characters or more: prices are per character, not per thousand", v.Price)
		}
	}
	return p, nil
}

// variantKey splits "hd/1024x1792", "1024x1024" or "hd" into quality and size: a lone
// part is a size when it reads WIDTHxHEIGHT, a quality otherwise.
func variantKey(key string) (quality, size string, err error) {
	q, s, both := strings.Cut(key, "/")
	switch {
	case both && q != "" && isSize(s):
		return q, s, nil
	case !both && isSize(key):
		return "", key, nil
	case !both && key != "":
		return key, "", nil
	}
	return "", "", fmt.Errorf("variant %q: want QUALITY, WIDTHxHEIGHT or QUALITY/WIDTHxHEIGHT", key)
}

func isSize(s string) bool {
	w, h, ok := strings.Cut(s, "x")
	return ok && digits(w) && digits(h)
}
