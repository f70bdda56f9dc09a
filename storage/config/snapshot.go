// snapshot.go is the immutable configuration the data plane reads: built by the
// projection, swapped in whole through an atomic pointer, never changed once published.
package config

import "sort"

// Snapshot is the configuration at one config-stream sequence.
type Snapshot struct {
	Seq         uint64
	gateways    map[string]*Gateway        // acct/gw
	tokens      map[string]*Token          // token id
	keys        map[string]*ProviderKey    // provider config id
	keyAlias    map[string]*ProviderKey    // acct/gw/provider/alias
	customs     map[string]*CustomProvider // custom provider id
	customSlug  map[string]*CustomProvider // acct/slug
	datasets    map[string]*Dataset        // dataset id (datasets.go)
	evals       map[string]*Evaluation     // evaluation id (evaluations.go)
	routes      map[string]*Route          // route id (routes.go)
	routeNames  map[string]*Route          // acct/gw/name (routes.go)
	dlpProfiles map[string]*DLPProfile     // custom DLP profile id (dlpprofiles.go)
	dlpVersion  map[string]uint64          // acct → seq of its last DLP profile change
}

func emptySnapshot() *Snapshot {
	return &Snapshot{
		gateways: map[string]*Gateway{}, tokens: map[string]*Token{}, keys: map[string]*ProviderKey{},
		keyAlias: map[string]*ProviderKey{}, customs: map[string]*CustomProvider{}, customSlug: map[string]*CustomProvider{},
		datasets: map[string]*Dataset{}, evals: map[string]*Evaluation{},
		routes: map[string]*Route{}, routeNames: map[string]*Route{},
		dlpProfiles: map[string]*DLPProfile{}, dlpVersion: map[string]uint64{},
	}
}

// clone copies the maps (not the values, which are never modified once published).
func (s *Snapshot) clone() *Snapshot {
	return &Snapshot{
		Seq: s.Seq, gateways: cloneMap(s.gateways), tokens: cloneMap(s.tokens), keys: cloneMap(s.keys),
		keyAlias: cloneMap(s.keyAlias), customs: cloneMap(s.customs), customSlug: cloneMap(s.customSlug),
		datasets: cloneMap(s.datasets), evals: cloneMap(s.evals),
		routes: cloneMap(s.routes), routeNames: cloneMap(s.routeNames),
		dlpProfiles: cloneMap(s.dlpProfiles), dlpVersion: cloneMap(s.dlpVersion),
	}
}

func cloneMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Gateway returns a gateway's settings, or nil.
func (s *Snapshot) Gateway(acct, id string) *Gateway { return s.gateways[acct+"/"+id] }

// Gateways lists an account's gateways sorted by id.
func (s *Snapshot) Gateways(acct string) []*Gateway {
	var out []*Gateway
	for _, g := range s.gateways {
		if g.AccountID == acct {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Token returns a token by id, or nil.
func (s *Snapshot) Token(id string) *Token { return s.tokens[id] }

// Tokens lists an account's tokens, oldest first.
func (s *Snapshot) Tokens(acct string) []*Token {
	var out []*Token
	for _, t := range s.tokens {
		if t.AccountID == acct {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ProviderKey returns a stored key by id, or nil.
func (s *Snapshot) ProviderKey(id string) *ProviderKey { return s.keys[id] }

// ProviderKeys lists a gateway's stored keys, oldest first.
func (s *Snapshot) ProviderKeys(acct, gw string) []*ProviderKey {
	var out []*ProviderKey
	for _, k := range s.keys {
		if k.AccountID == acct && k.GatewayID == gw {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// KeyFor picks the stored key a request uses: the one with the alias named in
// cf-aig-byok-alias, or, with no alias, the provider's default_config key, else the one
// aliased "default". It returns nil when there is none.
func (s *Snapshot) KeyFor(acct, gw, provider, alias string) *ProviderKey {
	prefix := acct + "/" + gw + "/" + provider + "/"
	if alias != "" {
		return s.keyAlias[prefix+alias]
	}
	if k := s.keyAlias[prefix+"\x00default_config"]; k != nil {
		return k
	}
	return s.keyAlias[prefix+"default"]
}

// CustomProvider returns a custom provider by id, or nil.
func (s *Snapshot) CustomProvider(id string) *CustomProvider { return s.customs[id] }

// CustomProviderBySlug returns an account's custom provider by slug (without "custom-").
func (s *Snapshot) CustomProviderBySlug(acct, slug string) *CustomProvider {
	return s.customSlug[acct+"/"+slug]
}

// CustomProviders lists an account's custom providers (unsorted; the API sorts).
func (s *Snapshot) CustomProviders(acct string) []*CustomProvider {
	var out []*CustomProvider
	for _, c := range s.customs {
		if c.AccountID == acct {
			out = append(out, c)
		}
	}
	return out
}

// secretFor finds the sealed-secret reference behind a secret id in an account.
func (s *Snapshot) secretFor(acct, secretID string) *ProviderKey {
	for _, k := range s.keys {
		if k.AccountID == acct && k.SecretID == secretID {
			return k
		}
	}
	return nil
}
