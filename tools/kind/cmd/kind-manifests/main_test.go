package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
)

func TestEvalConcatenatesConstants(t *testing.T) {
	src := "package p\nconst image = \"docker.io/x:v1\"\nconst manifest = `a: ` + image + \"\\n\" + `b: \"{{ .PodSubnet }}\"`\n"
	file, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]ast.Expr{}
	for _, d := range file.Decls {
		for _, s := range d.(*ast.GenDecl).Specs {
			vs := s.(*ast.ValueSpec)
			consts[vs.Names[0].Name] = vs.Values[0]
		}
	}
	got, err := eval(consts["manifest"], consts)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a: docker.io/x:v1\nb: \"{{ .PodSubnet }}\""; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := eval(&ast.Ident{Name: "missing"}, consts); err == nil {
		t.Error("an unknown constant evaluated")
	}
}
