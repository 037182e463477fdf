package main

import (
	_ "github.com/go-git/go-git/v5"
	_ "github.com/haproxytech/client-native/v5"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/spf13/cobra"
	_ "gopkg.in/yaml.v3"
)

func main() {}
