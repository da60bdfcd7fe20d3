package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	mitText = `The MIT License (MIT)

Copyright (c) 2016 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.`

	bsd2Text = `Copyright (c) 2020, Big Sky Software
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.`

	bsd3Text = bsd2Text + `

   * Neither the name of Google Inc. nor the names of its
contributors may be used to endorse or promote products derived from
this software without specific prior written permission.`

	bsd4Text = bsd3Text + `
3. All advertising materials mentioning features or use of this software
   must display the following acknowledgement: This product includes
   software developed by the organization.`

	iscText = `Copyright (c) 2015 Someone

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.`

	zeroBSDText = `Zero-Clause BSD
=============

Permission to use, copy, modify, and/or distribute this software for
any purpose with or without fee is hereby granted.

THE SOFTWARE IS PROVIDED “AS IS” AND THE AUTHOR DISCLAIMS ALL WARRANTIES.`

	apacheText = `
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/`

	apacheHeader = `// Copyright 2015 James Saryerwinnie
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.`

	// mplText names the GNU licences as Secondary Licenses without being one.
	mplText = `Mozilla Public License Version 2.0
==================================

1.12. "Secondary License"
    means either the GNU General Public License, Version 2.0, the GNU Lesser
    General Public License, Version 2.1, the GNU Affero General Public
    License, Version 3.0, or any later versions of those licenses.`

	gpl2Text = `                    GNU GENERAL PUBLIC LICENSE
                       Version 2, June 1991

 Copyright (C) 1989, 1991 Free Software Foundation, Inc.`

	gpl3Text = `                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007`

	gplGrant = `This program is free software: you can redistribute it and/or modify
it under the terms of the GNU General Public License as published by
the Free Software Foundation, either version 3 of the License, or
(at your option) any later version.`

	lgplGrant = `This library is free software; you can redistribute it and/or
modify it under the terms of the GNU Lesser General Public
License as published by the Free Software Foundation.`

	lgpl21Text = `                  GNU LESSER GENERAL PUBLIC LICENSE
                       Version 2.1, February 1999`

	agplText = `                    GNU AFFERO GENERAL PUBLIC LICENSE
                       Version 3, 19 November 2007`

	unlicenseText = `This is free and unencumbered software released into the public domain.

Anyone is free to copy, modify, publish, use, compile, sell, or
distribute this software.`

	sqliteText = `SQLite Is Public Domain

All of the code and documentation in SQLite has been dedicated to the public
domain by the authors.`

	proprietaryText = `Copyright (c) 2024 Example Corp. All rights reserved.
No part of this software may be used without a written licence.`
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"MIT", mitText, []string{"MIT"}},
		{"MIT without its condition is MIT-0", strings.Replace(mitText, "The above copyright notice", "Nothing", 1), []string{"MIT-0"}},
		{"BSD 2-clause", bsd2Text, []string{"BSD-2-Clause"}},
		{"BSD 3-clause", bsd3Text, []string{"BSD-3-Clause"}},
		{"BSD 4-clause", bsd4Text, []string{"BSD-4-Clause"}},
		{"ISC", iscText, []string{"ISC"}},
		{"0BSD", zeroBSDText, []string{"0BSD"}},
		{"Apache text", apacheText, []string{"Apache-2.0"}},
		{"Apache header in comments", apacheHeader, []string{"Apache-2.0"}},
		{"MPL naming the GNU licences", mplText, []string{"MPL-2.0"}},
		{"GPL-2.0", gpl2Text, []string{"GPL-2.0"}},
		{"GPL-3.0 with its grant", gpl3Text + "\n\n" + gplGrant, []string{"GPL-3.0"}},
		{"GPL grant alone", gplGrant, []string{"GPL"}},
		{"LGPL grant", lgplGrant, []string{"LGPL"}},
		{"LGPL-2.1", lgpl21Text, []string{"LGPL-2.1"}},
		{"AGPL-3.0", agplText, []string{"AGPL-3.0"}},
		{"Unlicense", unlicenseText, []string{"Unlicense"}},
		{"SQLite's dedication", sqliteText, []string{"Public-Domain"}},
		{"two licences in one file", "This project is covered by two licenses: MIT and Apache.\n\n" + mitText + "\n\n" + apacheHeader, []string{"Apache-2.0", "MIT"}},
		{"MIT with a GPL part", mitText + "\n\n" + gplGrant, []string{"GPL", "MIT"}},
		{"proprietary", proprietaryText, nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNormaliseKeepsVersionNumbers(t *testing.T) {
	got := normalise("Version 2.0, January 2004. The End.\n\tand/or “quoted”")
	want := "version 2.0 january 2004 the end and or quoted"
	if got != want {
		t.Errorf("normalise = %q, want %q", got, want)
	}
}

// moduleDir makes a module directory holding the given files.
func moduleDir(t *testing.T, files map[string]string) Module {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Module{Path: "example.com/m", Version: "v1.0.0", Dir: dir}
}

func TestInspect(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		licences []string
		problem  string // a substring of the only problem; empty when OK
	}{
		{"MIT", map[string]string{"LICENSE": mitText, "go.mod": "module example.com/m"}, []string{"MIT"}, ""},
		{"LICENCE.md spelling", map[string]string{"LICENCE.md": bsd3Text}, []string{"BSD-3-Clause"}, ""},
		{"COPYING", map[string]string{"COPYING": iscText}, []string{"ISC"}, ""},
		{"extra licences add up", map[string]string{"LICENSE": bsd3Text, "LICENSE-SQLITE": sqliteText, "LICENSE-LOGO": "https://example.com/logo.png"}, []string{"BSD-3-Clause", "Public-Domain"}, ""},
		{"no licence file", map[string]string{"README.md": "MIT licensed"}, nil, "no licence file"},
		{"licence not recognised", map[string]string{"LICENSE": proprietaryText}, nil, "LICENSE: licence not recognised"},
		{"GPL", map[string]string{"LICENSE": gpl3Text}, []string{"GPL-3.0"}, "LICENSE: GPL-3.0 is not an allowed licence"},
		{"AGPL", map[string]string{"LICENSE.txt": agplText}, []string{"AGPL-3.0"}, "LICENSE.txt: AGPL-3.0 is not an allowed licence"},
		{"LGPL in an extra file", map[string]string{"LICENSE": mitText, "LICENSE-vendored": lgplGrant}, []string{"LGPL", "MIT"}, "LICENSE-vendored: LGPL is not an allowed licence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := inspect(moduleDir(t, tt.files))
			if !slices.Equal(v.Licences, tt.licences) {
				t.Errorf("licences = %v, want %v", v.Licences, tt.licences)
			}
			switch {
			case tt.problem == "" && !v.OK():
				t.Errorf("problems = %v, want none", v.Problems)
			case tt.problem != "" && (len(v.Problems) != 1 || !strings.Contains(v.Problems[0], tt.problem)):
				t.Errorf("problems = %v, want one naming %q", v.Problems, tt.problem)
			}
		})
	}
}

func TestInspectMissingDirectory(t *testing.T) {
	v := inspect(Module{Path: "example.com/gone", Dir: filepath.Join(t.TempDir(), "absent")})
	if v.OK() || !strings.Contains(v.Problems[0], "not in the module cache") {
		t.Errorf("problems = %v", v.Problems)
	}
}

func TestMissingNotices(t *testing.T) {
	with := inspect(moduleDir(t, map[string]string{"LICENSE": apacheText, "NOTICE": "Copyright 2015 Them"}))
	with.Module.Path = "example.com/noticed"
	without := inspect(moduleDir(t, map[string]string{"LICENSE": apacheText}))
	without.Module.Path = "example.com/plain"
	if len(with.Notices) != 1 || len(without.Notices) != 0 {
		t.Fatalf("notices found: %d and %d", len(with.Notices), len(without.Notices))
	}
	verdicts := []Verdict{with, without}
	if got := missingNotices(verdicts, "Ward\n\nexample.com/noticed v1.0.0\n  Copyright 2015 Them\n"); len(got) != 0 {
		t.Errorf("missing = %v, want none", got)
	}
	if got := missingNotices(verdicts, "Ward\n\nexample.com/noticed-fork v1.0.0\n"); !slices.Equal(got, []string{"example.com/noticed"}) {
		t.Errorf("missing = %v, want example.com/noticed", got)
	}
}
