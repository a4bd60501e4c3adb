package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// discoveryPath is appended to the issuer URL (OpenID Connect Discovery 1.0
// section 4).
const discoveryPath = "/.well-known/openid-configuration"

// minRSABits is the smallest RSA modulus accepted from a key set.
const minRSABits = 2048

// fetched is the result of one discovery + JWKS round.
type fetched struct {
	jwksURI string
	keys    []jose.JSONWebKey
	skipped []string // why keys of the set were ignored, for the log
}

// fetchKeys reads issuer's discovery document, insists that it names
// issuer exactly, and fetches and parses the key set it points at. Errors
// are sentences for the operator; they name URLs, never secrets.
func fetchKeys(ctx context.Context, client *http.Client, issuer string) (fetched, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	discURL := strings.TrimSuffix(issuer, "/") + discoveryPath
	if err := getJSON(ctx, client, discURL, maxDiscoveryBytes, &doc); err != nil {
		return fetched{}, err
	}
	if doc.Issuer != issuer {
		return fetched{}, fmt.Errorf("discovery document %s names issuer %s, but the configured url is %q; they must match exactly (check scheme, host and any trailing slash)",
			discURL, quote(doc.Issuer), issuer)
	}
	if doc.JWKSURI == "" {
		return fetched{}, fmt.Errorf("discovery document %s has no jwks_uri", discURL)
	}
	if err := checkFetchURL(doc.JWKSURI); err != nil {
		return fetched{}, fmt.Errorf("discovery document %s: jwks_uri %s: %v", discURL, quote(doc.JWKSURI), err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, client, doc.JWKSURI, maxJWKSBytes, &set); err != nil {
		return fetched{}, err
	}
	f := fetched{jwksURI: doc.JWKSURI}
	for i, raw := range set.Keys {
		k, err := parseJWK(raw)
		if err != nil {
			f.skipped = append(f.skipped, fmt.Sprintf("key %d (kid %s): %v", i, quote(k.KeyID), err))
			continue
		}
		f.keys = append(f.keys, k)
	}
	if len(f.keys) == 0 {
		return f, fmt.Errorf("key set %s has no usable signing key (%d keys, %s)", doc.JWKSURI, len(set.Keys), strings.Join(f.skipped, "; "))
	}
	return f, nil
}

// getJSON GETs url and decodes its JSON body into v, reading at most limit
// bytes.
func getJSON(ctx context.Context, client *http.Client, url string, limit int64, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %v", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err // *url.Error already names the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP status %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("GET %s: reading the body: %v", url, err)
	}
	if int64(len(body)) > limit {
		return fmt.Errorf("GET %s: response is larger than %d bytes", url, limit)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: response is not the expected JSON: %v", url, err)
	}
	return nil
}

// parseJWK decodes one member of a key set and keeps it only if it is a
// public signing key some allowed algorithm can use. The returned key's
// KeyID is set even on error, for the message.
func parseJWK(raw json.RawMessage) (jose.JSONWebKey, error) {
	var head struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		D   any    `json:"d"`
		K   any    `json:"k"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return jose.JSONWebKey{}, errors.New("not a JSON object")
	}
	named := jose.JSONWebKey{KeyID: head.Kid}
	switch {
	case head.D != nil || head.K != nil:
		return named, errors.New("holds private or symmetric key material; ignored")
	case head.Kty != "RSA" && head.Kty != "EC" && head.Kty != "OKP":
		return named, fmt.Errorf("key type %s is not used for signatures here", quote(head.Kty))
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return named, fmt.Errorf("invalid: %v", err)
	}
	if !k.Valid() || !k.IsPublic() {
		return named, errors.New("not a valid public key")
	}
	if k.Use != "" && k.Use != "sig" {
		return k, fmt.Errorf("use is %s, not \"sig\"", quote(k.Use))
	}
	if k.Algorithm != "" && !slices.Contains(allowedAlgs, jose.SignatureAlgorithm(k.Algorithm)) {
		return k, fmt.Errorf("alg %s is not allowed", quote(k.Algorithm))
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return k, fmt.Errorf("RSA key of %d bits is weaker than %d bits", pub.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
			return k, fmt.Errorf("curve %s has no allowed algorithm", pub.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return k, fmt.Errorf("key type %T is not supported", pub)
	}
	return k, nil
}
