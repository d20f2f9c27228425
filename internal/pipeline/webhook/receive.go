package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// DefaultMaxBody is the default body limit. Push payloads with many
// commits run to a few hundred kilobytes; GitHub's own cap is 25 MB.
const DefaultMaxBody = 5 << 20

// Receiver checks and parses the webhooks of one hook: one forge, one
// secret.
type Receiver struct {
	Forge  Forge
	Secret []byte
	// MaxBody is the largest body accepted; DefaultMaxBody when 0.
	MaxBody int64
	Seen    DeliverySeen
}

// deliveryHeader and eventHeader are the headers each forge names its
// delivery and event kind in.
var (
	deliveryHeader = map[Forge]string{GitHub: "X-GitHub-Delivery", Gitea: "X-Gitea-Delivery", GitLab: "X-Gitlab-Event-UUID"}
	eventHeader    = map[Forge]string{GitHub: "X-GitHub-Event", Gitea: "X-Gitea-Event", GitLab: "X-Gitlab-Event"}
)

// Receive reads, verifies and parses one webhook request. Its errors map
// to HTTP statuses through StatusCode.
func (rc *Receiver) Receive(ctx context.Context, r *http.Request) (*Event, error) {
	if _, ok := deliveryHeader[rc.Forge]; !ok {
		return nil, fmt.Errorf("webhook: unknown forge %q", rc.Forge)
	}
	if len(rc.Secret) == 0 || rc.Seen == nil {
		// A hook without a secret would accept anyone's pushes.
		return nil, errors.New("webhook: the receiver has no secret or no delivery record")
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: %s", ErrMethod, r.Method)
	}
	body, err := rc.readBody(r)
	if err != nil {
		return nil, err
	}
	if !verify(rc.Forge, rc.Secret, r.Header, body) {
		return nil, ErrSignature
	}
	id := r.Header.Get(deliveryHeader[rc.Forge])
	if id == "" || len(id) > 200 {
		return nil, fmt.Errorf("%w: header %s is missing or too long; it is needed to refuse replays", ErrBadRequest, deliveryHeader[rc.Forge])
	}
	seen, err := rc.Seen.Seen(ctx, string(rc.Forge)+":"+id)
	if err != nil {
		return nil, fmt.Errorf("webhook: recording delivery %s: %w", id, err)
	}
	if seen {
		return nil, fmt.Errorf("%w: %s", ErrReplay, id)
	}
	payload, err := formPayload(r.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, err
	}
	ev, err := parse(rc.Forge, r.Header.Get(eventHeader[rc.Forge]), payload)
	if err != nil {
		return nil, err
	}
	ev.Forge, ev.DeliveryID = rc.Forge, id
	return ev, nil
}

// readBody reads the whole body, refusing more than MaxBody bytes.
func (rc *Receiver) readBody(r *http.Request) ([]byte, error) {
	limit := rc.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, r.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %w", ErrBadRequest, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return body, nil
}

// formPayload unwraps GitHub's "payload=" form encoding, which a hook can
// be set to; the signature covers the form body, so this comes after.
func formPayload(contentType string, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	v, err := url.ParseQuery(string(body))
	if err != nil || v.Get("payload") == "" {
		return nil, fmt.Errorf("%w: form body without a payload field", ErrBadRequest)
	}
	return []byte(v.Get("payload")), nil
}
