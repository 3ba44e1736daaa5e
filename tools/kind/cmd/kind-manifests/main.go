// Command kind-manifests prints, as JSON, the string constants that kind's
// node-image build writes into a node: the default CNI and storage manifests
// and the images they name. It parses kind's Go source (pkg/build/nodeimage)
// so the manifests come out byte for byte as kind has them.
//
// Usage: kind-manifests <directory of the sigs.k8s.io/kind module>
package main

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
)

var wanted = map[string]bool{
	"defaultCNIManifest":      true,
	"defaultStorageManifest":  true,
	"kindnetdImage":           true,
	"storageProvisionerImage": true,
	"storageHelperImage":      true,
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kind-manifests <sigs.k8s.io/kind module directory>")
		os.Exit(2)
	}
	dir := filepath.Join(os.Args[1], "pkg", "build", "nodeimage")
	fset := token.NewFileSet()
	exprs := map[string]ast.Expr{}
	for _, name := range []string{"const_cni.go", "const_storage.go"} {
		file, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			fail(err)
		}
		for _, decl := range file.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i < len(vs.Values) {
						exprs[id.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	found := map[string]string{}
	for name := range wanted {
		e, ok := exprs[name]
		if !ok {
			fail(fmt.Errorf("constant %s not found in %s", name, dir))
		}
		s, err := eval(e, exprs)
		if err != nil {
			fail(fmt.Errorf("%s: %w", name, err))
		}
		found[name] = s
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(found); err != nil {
		fail(err)
	}
}

// eval evaluates a constant string expression: literals, other constants of
// the package, and concatenations of those.
func eval(e ast.Expr, consts map[string]ast.Expr) (string, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", fmt.Errorf("%s is not a string", e.Value)
		}
		return strconv.Unquote(e.Value)
	case *ast.Ident:
		ref, ok := consts[e.Name]
		if !ok {
			return "", fmt.Errorf("unknown constant %s", e.Name)
		}
		return eval(ref, consts)
	case *ast.ParenExpr:
		return eval(e.X, consts)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", fmt.Errorf("operator %s in a string constant", e.Op)
		}
		x, err := eval(e.X, consts)
		if err != nil {
			return "", err
		}
		y, err := eval(e.Y, consts)
		return x + y, err
	}
	return "", fmt.Errorf("unsupported expression %T", e)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "kind-manifests: %v\n", err)
	os.Exit(1)
}
