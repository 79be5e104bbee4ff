#!/usr/bin/env bash
# Installs WordNet 3.0 for nltk (METEOR's synonym matching) without nltk.download,
# which needs a host this environment cannot reach. Debian's `wordnet-base` ships the
# same database and `wordnet-sense-index` its `index.sense`, which nltk's reader opens
# on load; nltk also wants the `lexnames` table, which Debian leaves out, so it is
# written here. Safe to run again: files are copied over unchanged.
#
# Target: $NLTK_DATA/corpora/wordnet/ (the first folder of NLTK_DATA; default <repo>/.nltk_data).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nltk_data="${NLTK_DATA:-$repo_root/.nltk_data}"
nltk_data="${nltk_data%%:*}"  # NLTK_DATA may list several folders; install into the first
source_dir=/usr/share/wordnet
target_dir="$nltk_data/corpora/wordnet"

if [ ! -f "$source_dir/data.noun" ] || [ ! -f "$source_dir/index.sense" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install_wordnet: METEOR needs WordNet; run 'sudo apt-get install wordnet-base wordnet-sense-index' and then this script again (METEOR is refused until then)" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wordnet-base wordnet-sense-index
fi

mkdir -p "$target_dir"
# Copies, not symlinks: the data must survive being packed or mounted elsewhere.
cp -f "$source_dir"/* "$target_dir"/

# The standard WordNet lexicographer file table (man 5 lexnames): number, name, syntactic category.
lexnames=(
    adj.all:3 adj.pert:3 adv.all:4
    noun.Tops:1 noun.act:1 noun.animal:1 noun.artifact:1 noun.attribute:1 noun.body:1
    noun.cognition:1 noun.communication:1 noun.event:1 noun.feeling:1 noun.food:1 noun.group:1
    noun.location:1 noun.motive:1 noun.object:1 noun.person:1 noun.phenomenon:1 noun.plant:1
    noun.possession:1 noun.process:1 noun.quantity:1 noun.relation:1 noun.shape:1 noun.state:1
    noun.substance:1 noun.time:1
    verb.body:2 verb.change:2 verb.cognition:2 verb.communication:2 verb.competition:2
    verb.consumption:2 verb.contact:2 verb.creation:2 verb.emotion:2 verb.motion:2
    verb.perception:2 verb.possession:2 verb.social:2 verb.stative:2 verb.weather:2
    adj.ppl:3
)
: > "$target_dir/lexnames"
for i in "${!lexnames[@]}"; do
    printf '%02d\t%s\t%s\n' "$i" "${lexnames[$i]%%:*}" "${lexnames[$i]##*:}" >> "$target_dir/lexnames"
done

echo "WordNet installed in $target_dir"
