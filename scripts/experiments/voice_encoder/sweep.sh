#!/bin/bash
# usage: sweep.sh TAG CFG_JSON [CFG_JSON ...]: train.py once per config, one summary line each into sweep.log
here=$(cd "$(dirname "$0")" && pwd)
tag=$1; shift
for cfg in "$@"; do
  python "$here/train.py" "$cfg" | python -c "import json,sys; r=json.load(sys.stdin); b=r['best']; print('$tag', json.dumps({k:v for k,v in r['cfg'].items() if k in json.loads(sys.argv[1])}), 'ep', r['best_ep'], ' '.join(f'{k}={b[k]}' for k in ('R@1_3s','R@10_3s','1:2_3s','R@1_6s','R@10_6s','1:2_6s','k')), int(r['secs']), flush=True)" "$cfg" >> "$here/sweep.log"
done
