#!/bin/bash
# run-all.sh - run every tNNNN-*.sh (or those named), then one summary line.
# A script that cannot run here (no FUSE, not root) reports itself skipped.
cd "$(dirname "$0")" || exit 1
mkdir -p results
passed=0 failed=0 skipped=0 bad_scripts=
scripts=("$@")
[ ${#scripts[@]} -eq 0 ] && scripts=(t[0-9][0-9][0-9][0-9]-*.sh)
for t in "${scripts[@]}"; do
	name=$(basename "$t" .sh)
	start=$(date +%s)
	bash "./$name.sh" >"results/$name.out" 2>&1
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "results/$name.out" | tail -1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		[ -z "$line" ] && failed=$((failed + 1))
		bad_scripts="$bad_scripts $name"
		echo "*** $name: FAILED (exit $rc, $(( $(date +%s) - start ))s)"
		grep -E '^not ok|^#' "results/$name.out" | head -40
		tail -15 "results/$name.out" | grep -vE '^(ok|not ok|#)' | sed 's/^/    /'
	else
		echo "    $name: ${line} ($(( $(date +%s) - start ))s)"
		grep -h '^SKIPPED:' "results/$name.out"
	fi
done
[ -n "$bad_scripts" ] && echo "failed scripts:$bad_scripts"
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
