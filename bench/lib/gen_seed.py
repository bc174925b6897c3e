#!/usr/bin/env python3
"""Writes the zoo seed as NDJSON files (deterministic: a fixed random seed).

    gen_seed.py OUT_DIR [--animals 100000] [--zoos 100] [--chunk 10000]

OUT_DIR/zoos.ndjson holds the zoos; OUT_DIR/animals-NNN.ndjson the animals, CHUNK rows
per file (one POST each). Animals: ages 0..99, 20 species, weights 0.1..500.0, zoo
uniform in 1..zoos, names "<first name> <number>", created a datetime in 2020..2024.
"""
import argparse
import json
import os
import random

SPECIES = ["lion", "tiger", "bear", "wolf", "zebra", "giraffe", "elephant", "hippo", "rhino", "gorilla",
           "chimp", "panda", "koala", "kangaroo", "penguin", "flamingo", "crocodile", "cobra", "otter", "lemur"]
NAMES = ["Leo", "Mia", "Bo", "Luna", "Max", "Bella", "Charlie", "Lucy", "Milo", "Daisy", "Oscar", "Nala",
         "Simba", "Kiara", "Rocky", "Zoe", "Teddy", "Ruby", "Finn", "Coco", "Otis", "Hazel", "Rex", "Pearl",
         "Gus", "Ivy", "Hugo", "Mabel", "Jasper", "Olive", "Bruno", "Willow", "Felix", "Stella", "Louie",
         "Penny", "Archie", "Rosie", "Buster", "Lola"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--animals", type=int, default=100_000)
    parser.add_argument("--zoos", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(20240601)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "zoos.ndjson"), "w") as out:
        for i in range(1, args.zoos + 1):
            out.write(json.dumps({"name": f"Zoo {i:03d}"}) + "\n")
    file_index = 0
    for start in range(0, args.animals, args.chunk):
        file_index += 1
        with open(os.path.join(args.out_dir, f"animals-{file_index:03d}.ndjson"), "w") as out:
            for _ in range(start, min(start + args.chunk, args.animals)):
                row = {
                    "name": f"{rng.choice(NAMES)} {rng.randrange(100000)}",
                    "species": rng.choice(SPECIES),
                    "age": rng.randrange(100),
                    "weight": rng.randint(1, 5000) / 10,
                    "zoo": rng.randint(1, args.zoos),
                    "created": "%04d-%02d-%02dT%02d:%02d:%02dZ" % (
                        rng.randint(2020, 2024), rng.randint(1, 12), rng.randint(1, 28),
                        rng.randrange(24), rng.randrange(60), rng.randrange(60)),
                }
                out.write(json.dumps(row, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
