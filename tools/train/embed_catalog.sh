#!/usr/bin/env bash
# Regenerates Sources/TrajForge/Train/CatalogData.swift from recipes/models.json (the catalog
# compiled into trajforge). Tests/TrajForgeTests/TrainCatalogTests.swift fails when they differ.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=Sources/TrajForge/Train/CatalogData.swift
{
    echo '// Generated from recipes/models.json by tools/train/embed_catalog.sh: edit the JSON, then rerun it.'
    echo '// TrainCatalogTests checks that this text equals the file.'
    echo 'enum CatalogData {'
    echo '    static let modelsJSON = #"""'
    cat recipes/models.json
    echo '"""#'
    echo '}'
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
