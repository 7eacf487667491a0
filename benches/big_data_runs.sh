#!/bin/bash
# Wall time and peak RSS of train, eval and predict on the generated sets of
# benches/make_big_data.py (BENCHMARKS.md, "Prediction, evaluation and
# loading"), two binaries alternately, and whether their models and
# predictions are byte-identical.
#
#   python3 benches/make_big_data.py /tmp/big 500000
#   python3 benches/make_big_data.py /tmp/big5m 5000000 --no-csv
#   # m.safetensors: a 64-256-256-10 model of the set; tiny.safetensors: 64-1-10
#   backprop train --data /tmp/big/x.npy --labels /tmp/big/y.npy --layers 256,256 --epochs 2 --out /tmp/big/m.safetensors
#   backprop train --data /tmp/big/x.npy --labels /tmp/big/y.npy --layers 1 --epochs 1 --out /tmp/big/tiny.safetensors
#   cp /tmp/big/m.safetensors /tmp/big5m/m5.safetensors
#   benches/big_data_runs.sh OLD_BINARY NEW_BINARY [/tmp/big] [/tmp/big5m]
set -u
OLD=$1
NEW=$2
BIG=${3:-/tmp/big}
BIG5M=${4:-}
t() { # label command...: wall, peak RSS, and the training time train reports
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o /tmp/big_data_runs.time "$@" >/tmp/big_data_runs.out 2>&1
    local train
    train=$(grep -o "in [0-9.]* s, evaluation excluded" /tmp/big_data_runs.out | grep -o "[0-9.]*" | head -1)
    echo "$label | $(awk '{printf "%s s, %d MB", $1, $2/1024}' /tmp/big_data_runs.time) | training ${train:-–} s"
}
date -u
cd "$BIG"
for round in 1 2; do
    for B in OLD NEW; do
        b=${!B}
        t "$B train npy 2 epochs" "$b" train --data x.npy --labels y.npy --layers 256,256 --epochs 2 --out "m_$B.safetensors"
        t "$B eval npy" "$b" eval --model m.safetensors --data x.npy --labels y.npy
        t "$B predict npy" "$b" predict --model m.safetensors --data x.npy --out "p_$B.csv"
        t "$B eval csv" "$b" eval --model m.safetensors --data big.csv
        t "$B train csv 1 epoch" "$b" train --data big.csv --layers 256,256 --epochs 1 --out "mc_$B.safetensors"
        t "$B eval npy tiny model (load)" "$b" eval --model tiny.safetensors --data x.npy --labels y.npy
    done
done
cmp m_OLD.safetensors m_NEW.safetensors && echo "train npy models identical"
cmp mc_OLD.safetensors mc_NEW.safetensors && echo "train csv models identical"
cmp p_OLD.csv p_NEW.csv && echo "predictions identical"
for _ in 1 2 3; do
    "$NEW" bench --predict --threads 2 --layers 64,256,256,10 --activation relu --head softmax --seconds 3 --json
done
if [ -n "$BIG5M" ]; then
    cd "$BIG5M"
    for B in OLD NEW; do
        b=${!B}
        t "$B 5M train 1 epoch" "$b" train --data x.npy --labels y.npy --layers 256,256 --epochs 1 --out "m_$B.safetensors"
        t "$B 5M eval" "$b" eval --model m5.safetensors --data x.npy --labels y.npy
        t "$B 5M predict" "$b" predict --model m5.safetensors --data x.npy --out "p_$B.csv"
    done
    cmp m_OLD.safetensors m_NEW.safetensors && echo "5M models identical"
    cmp p_OLD.csv p_NEW.csv && echo "5M predictions identical"
    rm -f p_OLD.csv p_NEW.csv
fi
date -u
