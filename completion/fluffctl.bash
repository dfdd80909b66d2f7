# SPDX-License-Identifier: MIT
# bash completion for fluffctl: commands, sub-commands, each command's own
# options, and the ids of watches and jobs as fluffd knows them now.

_fluffctl_ids()
{
    # the first column of a table's rows that is a number (the header is not)
    fluffctl "$@" 2>/dev/null | awk '$1 ~ /^[0-9]+$/ { print $1 }'
}

_fluffctl()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local commands="status login logout sync jobs cancel backbone embed train like dislike unvote predict
                    predictions review watch refresh model"
    local -A subs=([backbone]="import classify status" [watch]="add list remove run"
                   [model]="list show use remove")
    local -A opts=(
        [status]="--json" [login]="--remember" [logout]="--forget" [sync]="--json --no-wait"
        [jobs]="--json" [cancel]="--json" [embed]="--json --no-wait"
        [train]="--json --no-wait --time --towers --install"
        [like]="--json" [dislike]="--json" [unvote]="--json"
        [predict]="--json --no-wait --count --sheet --html" [predictions]="--json --sheet --html"
        [review]="--json --count --interactive"
        [backbone import]="--json --no-wait" [backbone classify]="--json" [backbone status]="--json"
        [watch add]="--json --threshold --max" [watch list]="--json" [watch remove]="--json"
        [watch run]="--json --no-wait" [refresh]="" [model list]="--json" [model show]="--json"
        [model use]="" [model remove]=""
    )

    # the command (and sub-command) typed so far, past the global options
    local i cmd="" sub="" dashdash=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        --) dashdash=1 ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then
                cmd=${words[i]}
            elif [[ -n ${subs[$cmd]} && -z $sub ]]; then
                sub=${words[i]}
            fi
            ;;
        esac
    done

    case $prev in
    --sheet) COMPREPLY=($(compgen -f -X '!*.png' -- "$cur") $(compgen -d -- "$cur")); return ;;
    --html) COMPREPLY=($(compgen -f -X '!*.html' -- "$cur") $(compgen -d -- "$cur")); return ;;
    --towers) COMPREPLY=($(compgen -W "both tags image" -- "$cur")); return ;;
    --time) COMPREPLY=($(compgen -W "90s 5m 10m 30m 1h" -- "$cur")); return ;;
    --count | --max | --threshold) return ;;
    esac

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands -q --quiet --help --version" -- "$cur"))
        return
    fi
    if [[ -n ${subs[$cmd]} && -z $sub ]]; then
        COMPREPLY=($(compgen -W "${subs[$cmd]} --help" -- "$cur"))
        return
    fi
    local key=$cmd${sub:+ $sub}
    if [[ $cur == -* && $dashdash == 0 ]]; then
        COMPREPLY=($(compgen -W "${opts[$key]} --quiet --help" -- "$cur"))
        return
    fi
    case $key in
    cancel) COMPREPLY=($(compgen -W "$(_fluffctl_ids jobs)" -- "$cur")) ;;
    "watch remove" | "watch run") COMPREPLY=($(compgen -W "$(_fluffctl_ids watch list)" -- "$cur")) ;;
    "backbone import" | "backbone classify") COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
}

complete -F _fluffctl fluffctl
