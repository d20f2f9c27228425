package gatewayd

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/pkg/api"
)

// fill sets every field reachable from v to a non-zero value: each slice
// and map gets one element, each pointer a value.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), n)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), n)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	}
}

// TestConvertCoversEveryField: a gateway.Snapshot with every field set
// goes over the wire as JSON into api.GatewaySnapshot without an unknown
// or lost field, and back through fromAPI unchanged.
func TestConvertCoversEveryField(t *testing.T) {
	t.Parallel()
	var want gateway.Snapshot
	n := 0
	fill(reflect.ValueOf(&want).Elem(), &n)
	if want.Routes[0].Policy.Breaker.HalfOpenRequests == 0 || want.Routes[0].Policy.Auth.APIKeys == nil {
		t.Fatalf("fill missed fields: %+v", want)
	}
	wire, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var s api.GatewaySnapshot
	dec := json.NewDecoder(bytes.NewReader(wire))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("gateway.Snapshot has a field api.GatewaySnapshot lacks: %v", err)
	}
	again, _ := json.Marshal(s)
	if !bytes.Equal(wire, again) {
		t.Fatalf("api.GatewaySnapshot loses or adds fields:\n%s\n%s", wire, again)
	}
	if got := fromAPI(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("fromAPI:\n got %+v\nwant %+v", got, want)
	}
	// And the other way: every field of the API type is one of the gateway's.
	var full api.GatewaySnapshot
	fill(reflect.ValueOf(&full).Elem(), &n)
	wire, _ = json.Marshal(full)
	var g gateway.Snapshot
	dec = json.NewDecoder(bytes.NewReader(wire))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		t.Fatalf("api.GatewaySnapshot has a field gateway.Snapshot lacks: %v", err)
	}
	if got, _ := json.Marshal(fromAPI(full)); !bytes.Equal(got, wire) {
		t.Fatalf("fromAPI loses fields:\n%s\n%s", got, wire)
	}
}
