// What an Argo Events Sensor does with one event, for water's tests: its dependency's data filters decide
// whether the event counts, then each trigger parameter's value is resolved from the event data. Written after
// argo-events (master 6478ece, as in v1.9) pkg/sensors/dependencies/filter.go filterData (string filters: the
// value, or what the filter's template makes of it, matched with Go's regexp, unanchored) and
// pkg/sensors/triggers/params.go ResolveParamValue / getValueWithTemplate / getValueByKey (dataTemplate with
// text/template and sprig's FuncMap over {"Input": the event data}, then dataKey with gjson, then value),
// with the same libraries: Go's text/template and regexp, Masterminds/sprig v3, tidwall/gjson.
//
// stdin: {"filters": [DataFilter...], "parameters": [TriggerParameter...], "data": <event data JSON>}
// stdout: {"passes": bool, "why": "...", "values": [string or null per parameter]}
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"text/template"

	"github.com/Masterminds/sprig"
	"github.com/tidwall/gjson"
)

type dataFilter struct {
	Path       string   `json:"path"`
	Type       string   `json:"type"`
	Value      []string `json:"value"`
	Comparator string   `json:"comparator"`
	Template   string   `json:"template"`
}

type paramSource struct {
	DependencyName string  `json:"dependencyName"`
	DataKey        string  `json:"dataKey"`
	DataTemplate   string  `json:"dataTemplate"`
	Value          *string `json:"value"`
}

type parameter struct {
	Src  paramSource `json:"src"`
	Dest string      `json:"dest"`
}

type input struct {
	Filters    []dataFilter    `json:"filters"`
	Parameters []parameter     `json:"parameters"`
	Data       json.RawMessage `json:"data"`
}

func render(templ string, input interface{}) (string, error) {
	tpl, err := template.New("param").Funcs(sprig.FuncMap()).Parse(templ)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, map[string]interface{}{"Input": input}); err != nil {
		return "", err
	}
	out := buf.String()
	if out == "" || out == "<no value>" {
		return "", fmt.Errorf("template evaluated to empty string or no value: %s", templ)
	}
	return out, nil
}

// filterData with the AND operator (a Sensor's default): every filter must pass.
func passes(filters []dataFilter, payload []byte) (bool, string) {
	for _, f := range filters {
		result := gjson.GetBytes(payload, f.Path)
		if !result.Exists() {
			return false, fmt.Sprintf("path '%s' does not exist", f.Path)
		}
		if f.Template != "" {
			out, err := render(f.Template, result.String())
			if err != nil {
				return false, err.Error()
			}
			result = gjson.Parse(strconv.Quote(out))
		}
		if f.Type != "string" || (f.Comparator != "" && f.Comparator != "=") {
			return false, "this harness knows string filters with = only"
		}
		matched := false
		for _, value := range f.Value {
			exp, err := regexp.Compile(value)
			if err != nil {
				return false, err.Error()
			}
			if exp.Match([]byte(result.String())) {
				matched = true
				break
			}
		}
		if !matched {
			return false, fmt.Sprintf("%s = %q matches none of %v", f.Path, result.String(), f.Value)
		}
	}
	return true, ""
}

func resolve(src paramSource, payload []byte) *string {
	if src.DataTemplate != "" {
		if out, err := render(src.DataTemplate, gjson.ParseBytes(payload).Value()); err == nil {
			return &out
		} else {
			fmt.Fprintf(os.Stderr, "failed to execute the src event template: %v\n", err)
		}
	}
	if src.DataKey != "" {
		if res := gjson.GetBytes(payload, src.DataKey); res.Exists() {
			out := res.String()
			if res.Type == gjson.JSON || res.Type == gjson.Null {
				out = res.Raw
			}
			return &out
		}
	}
	return src.Value
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ok, why := passes(in.Filters, in.Data)
	values := []*string{}
	if ok {
		for _, p := range in.Parameters {
			values = append(values, resolve(p.Src, in.Data))
		}
	}
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"passes": ok, "why": why, "values": values})
}
