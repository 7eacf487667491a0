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
#   # images (BENCHMARKS.md, "Image bytes"): 200 000 28x28 IDX images and a 784-128-10 model
#   python3 benches/make_image_data.py /tmp/img 200000
#   backprop train --data /tmp/img/images-idx3-ubyte --labels /tmp/img/labels-idx1-ubyte --layers 128 --epochs 1 --out /tmp/img/mi.safetensors
#   gzip -1 -k /tmp/img/images-idx3-ubyte
#   benches/big_data_runs.sh OLD_BINARY NEW_BINARY [/tmp/big] [/tmp/big5m|""] [/tmp/img]
set -u
OLD=$1
NEW=$2
BIG=${3:-/tmp/big}
BIG5M=${4:-}
IMG=${5:-}
t() { # label command...: wall, peak RSS, and the training time train reports
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o /tmp/big_data_runs.time "$@" >/tmp/big_data_runs.out 2>&1
    local train
    train=$(grep -o "in [0-9.]* s, evaluation excluded" /tmp/big_data_runs.out | grep -o "[0-9.]*" | head -1)
    echo "$label | $(awk '{printf "%s s, %d MB", $1, $2/1024}' /tmp/big_data_runs.time) | training ${train:-–} s"
}
date -u
if [ -n "$IMG" ]; then
    cd "$IMG"
    for round in 1 2; do
        for B in OLD NEW; do
            b=${!B}
            t "$B images train 1 epoch" "$b" train --data images-idx3-ubyte --labels labels-idx1-ubyte --layers 128 --epochs 1 --out "mi_$B.safetensors"
            t "$B images eval" "$b" eval --model mi.safetensors --data images-idx3-ubyte --labels labels-idx1-ubyte
            t "$B images predict" "$b" predict --model mi.safetensors --data images-idx3-ubyte --out "pi_$B.csv"
            t "$B images eval --no-mmap" "$b" eval --model mi.safetensors --data images-idx3-ubyte --labels labels-idx1-ubyte --no-mmap
            t "$B images eval gzip" "$b" eval --model mi.safetensors --data images-idx3-ubyte.gz --labels labels-idx1-ubyte
        done
    done
    cmp mi_OLD.safetensors mi_NEW.safetensors && echo "images models identical"
    cmp pi_OLD.csv pi_NEW.csv && echo "images predictions identical"
    rm -f pi_OLD.csv pi_NEW.csv
fi
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
