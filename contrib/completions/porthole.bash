#!/bin/bash

__porthole_cursor_index_in_current_word() {
    local remaining="${COMP_LINE}"

    local word
    for word in "${COMP_WORDS[@]::COMP_CWORD}"; do
        remaining="${remaining##*([[:space:]])"${word}"*([[:space:]])}"
    done

    local -ir index="$((COMP_POINT - ${#COMP_LINE} + ${#remaining}))"
    if [[ "${index}" -le 0 ]]; then
        printf 0
    else
        printf %s "${index}"
    fi
}

# positional arguments:
#
# - 1: the current (sub)command's count of positional arguments
#
# required variables:
#
# - repeating_flags: the repeating flags that the current (sub)command can accept
# - non_repeating_flags: the non-repeating flags that the current (sub)command can accept
# - repeating_options: the repeating options that the current (sub)command can accept
# - non_repeating_options: the non-repeating options that the current (sub)command can accept
# - positional_number: value ignored
# - unparsed_words: unparsed words from the current command line
#
# modified variables:
#
# - non_repeating_flags: remove flags for this (sub)command that are already on the command line
# - non_repeating_options: remove options for this (sub)command that are already on the command line
# - positional_number: set to the current positional number
# - unparsed_words: remove all flags, options, and option values for this (sub)command
__porthole_offer_flags_options() {
    local -ir positional_count="${1}"
    positional_number=0

    local was_flag_option_terminator_seen=false
    local is_parsing_option_value=false

    local -ar unparsed_word_indices=("${!unparsed_words[@]}")
    local -i word_index
    for word_index in "${unparsed_word_indices[@]}"; do
        if "${is_parsing_option_value}"; then
            # This word is an option value:
            # Reset marker for next word iff not currently the last word
            [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]] && is_parsing_option_value=false
            unset "unparsed_words[${word_index}]"
            # Do not process this word as a flag or an option
            continue
        fi

        local word="${unparsed_words["${word_index}"]}"
        if ! "${was_flag_option_terminator_seen}"; then
            case "${word}" in
            --)
                unset "unparsed_words[${word_index}]"
                # by itself -- is a flag/option terminator, but if it is the last word, it is the start of a completion
                if [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]]; then
                    was_flag_option_terminator_seen=true
                fi
                continue
                ;;
            -*)
                # ${word} is a flag or an option
                # If ${word} is an option, mark that the next word to be parsed is an option value
                local option
                for option in "${repeating_options[@]}" "${non_repeating_options[@]}"; do
                    [[ "${word}" = "${option}" ]] && is_parsing_option_value=true && break
                done

                # Remove ${word} from ${non_repeating_flags} or ${non_repeating_options} so it isn't offered again
                local not_found=true
                local -i index
                for index in "${!non_repeating_flags[@]}"; do
                    if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                        unset "non_repeating_flags[${index}]"
                        non_repeating_flags=("${non_repeating_flags[@]}")
                        not_found=false
                        break
                    fi
                done
                if "${not_found}"; then
                    for index in "${!non_repeating_flags[@]}"; do
                        if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                            unset "non_repeating_flags[${index}]"
                            non_repeating_flags=("${non_repeating_flags[@]}")
                            break
                        fi
                    done
                fi
                unset "unparsed_words[${word_index}]"
                continue
                ;;
            esac
        fi

        # ${word} is neither a flag, nor an option, nor an option value
        if [[ "${positional_number}" -lt "${positional_count}" || "${positional_count}" -lt 0 ]]; then
            # ${word} is a positional
            ((positional_number++))
            unset "unparsed_words[${word_index}]"
        else
            if [[ -z "${word}" ]]; then
                # Could be completing a flag, option, or subcommand
                positional_number=-1
            else
                # ${word} is a subcommand or invalid, so stop processing this (sub)command
                positional_number=-2
            fi
            break
        fi
    done

    unparsed_words=("${unparsed_words[@]}")

    if\
        ! "${was_flag_option_terminator_seen}"\
        && ! "${is_parsing_option_value}"\
        && [[ ("${cur}" = -* && "${positional_number}" -ge 0) || "${positional_number}" -eq -1 ]]
    then
        COMPREPLY+=($(compgen -W "${repeating_flags[*]} ${non_repeating_flags[*]} ${repeating_options[*]} ${non_repeating_options[*]}" -- "${cur}"))
    fi
}

__porthole_add_completions() {
    local completion
    while IFS='' read -r completion; do
        COMPREPLY+=("${completion}")
    done < <(IFS=$'\n' compgen "${@}" -- "${cur}")
}

__porthole_custom_complete() {
    if [[ -n "${cur}" || -z ${COMP_WORDS[${COMP_CWORD}]} || "${COMP_LINE:${COMP_POINT}:1}" != ' ' ]]; then
        local -ar words=("${COMP_WORDS[@]}")
    else
        local -ar words=("${COMP_WORDS[@]::${COMP_CWORD}}" '' "${COMP_WORDS[@]:${COMP_CWORD}}")
    fi

    "${COMP_WORDS[0]}" "${@}" "${words[@]}"
}

_porthole() {
    local state
    state="$(shopt -p;shopt -po)"
    trap "${state//$'\n'/;}" RETURN
    shopt -s extglob
    set +o history +o posix

    local -xr SAP_SHELL=bash
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(IFS='.';printf %s "${BASH_VERSINFO[*]}")"
    local -r SAP_SHELL_VERSION

    local -r cur="${2}"
    local -r prev="${3}"

    local -i positional_number
    local -a unparsed_words=("${COMP_WORDS[@]:1:${COMP_CWORD}}")

    local -a repeating_flags=()
    local -a non_repeating_flags=(-h --help)
    local -a repeating_options=()
    local -a non_repeating_options=()
    __porthole_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    host|guest|share|buffers|pipewire|bench|help)
        # Offer subcommand argument completions
        "_porthole_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'host guest share buffers pipewire bench help' -- "${cur}"))
        ;;
    esac
}

_porthole_host() {
    repeating_flags=()
    non_repeating_flags=(--no-title-label --bulk-lane --no-bulk-lane --verbose --trace --short-slice --no-short-slice -h --help)
    repeating_options=(--allow --buffers-to-guest --shared-region --protocol)
    non_repeating_options=(--listen --connect --display --region --region-size --name --clipboard --policy --buffers-socket --buffers-producer-socket --buffers-region-consumers --max-guests --guest-fds --guest-memory --total-guest-memory --guest-objects --receive-threads --stats)
    __porthole_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--listen')
        return
        ;;
    '--connect')
        return
        ;;
    '--display')
        return
        ;;
    '--region')
        return
        ;;
    '--region-size')
        return
        ;;
    '--name')
        return
        ;;
    '--allow')
        return
        ;;
    '--clipboard')
        __porthole_add_completions -W 'both'$'\n''to-guest'$'\n''from-guest'$'\n''none'
        return
        ;;
    '--policy')
        return
        ;;
    '--buffers-socket')
        return
        ;;
    '--buffers-producer-socket')
        return
        ;;
    '--buffers-to-guest')
        return
        ;;
    '--shared-region')
        return
        ;;
    '--buffers-region-consumers')
        return
        ;;
    '--max-guests')
        return
        ;;
    '--guest-fds')
        return
        ;;
    '--guest-memory')
        return
        ;;
    '--total-guest-memory')
        return
        ;;
    '--guest-objects')
        return
        ;;
    '--receive-threads')
        return
        ;;
    '--stats')
        return
        ;;
    '--protocol')
        return
        ;;
    esac
}

_porthole_guest() {
    repeating_flags=()
    non_repeating_flags=(--no-reconnect --region-fallback --copy-thread --no-copy-thread --copy-helper --no-copy-helper --bulk-lane --no-bulk-lane --verbose --trace --short-slice --no-short-slice -h --help)
    repeating_options=(--protocol)
    non_repeating_options=(--listen --connect --socket --region --buffers-socket --buffers-consumer-socket --shared-region --stats)
    __porthole_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--listen')
        return
        ;;
    '--connect')
        return
        ;;
    '--socket')
        return
        ;;
    '--region')
        return
        ;;
    '--buffers-socket')
        return
        ;;
    '--buffers-consumer-socket')
        return
        ;;
    '--shared-region')
        return
        ;;
    '--stats')
        return
        ;;
    '--protocol')
        return
        ;;
    esac
}

_porthole_share() {
    repeating_flags=()
    non_repeating_flags=(-h --help)
    repeating_options=()
    non_repeating_options=()
    __porthole_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    publish)
        # Offer subcommand argument completions
        "_porthole_share_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'publish' -- "${cur}"))
        ;;
    esac
}

_porthole_share_publish() {
    repeating_flags=()
    non_repeating_flags=(--pattern --region --shared --export -h --help)
    repeating_options=(--property --grant)
    non_repeating_options=(--socket --app --size --format --fps --frames --release-timeout)
    __porthole_offer_flags_options 1

    # Offer option value completions
    case "${prev}" in
    '--socket')
        return
        ;;
    '--app')
        return
        ;;
    '--size')
        return
        ;;
    '--format')
        return
        ;;
    '--fps')
        return
        ;;
    '--frames')
        return
        ;;
    '--release-timeout')
        return
        ;;
    '--property')
        return
        ;;
    '--grant')
        return
        ;;
    esac
}

_porthole_buffers() {
    repeating_flags=()
    non_repeating_flags=(-h --help)
    repeating_options=()
    non_repeating_options=()
    __porthole_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    list|watch|dump)
        # Offer subcommand argument completions
        "_porthole_buffers_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'list watch dump' -- "${cur}"))
        ;;
    esac
}

_porthole_buffers_list() {
    repeating_flags=()
    non_repeating_flags=(-h --help)
    repeating_options=()
    non_repeating_options=(--socket --app --guest --import)
    __porthole_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--socket')
        return
        ;;
    '--app')
        return
        ;;
    '--guest')
        return
        ;;
    '--import')
        return
        ;;
    esac
}

_porthole_buffers_watch() {
    repeating_flags=()
    non_repeating_flags=(--quiet --hold -h --help)
    repeating_options=()
    non_repeating_options=(--socket --app --guest --import --frames --duration)
    __porthole_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--socket')
        return
        ;;
    '--app')
        return
        ;;
    '--guest')
        return
        ;;
    '--import')
        return
        ;;
    '--frames')
        return
        ;;
    '--duration')
        return
        ;;
    esac
}

_porthole_buffers_dump() {
    repeating_flags=()
    non_repeating_flags=(-h --help)
    repeating_options=()
    non_repeating_options=(--socket --app --guest --import)
    __porthole_offer_flags_options 2

    # Offer option value completions
    case "${prev}" in
    '--socket')
        return
        ;;
    '--app')
        return
        ;;
    '--guest')
        return
        ;;
    '--import')
        return
        ;;
    esac
}

_porthole_pipewire() {
    repeating_flags=()
    non_repeating_flags=(-h --help)
    repeating_options=()
    non_repeating_options=()
    __porthole_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    export|import)
        # Offer subcommand argument completions
        "_porthole_pipewire_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'export import' -- "${cur}"))
        ;;
    esac
}

_porthole_pipewire_export() {
    repeating_flags=()
    non_repeating_flags=(-h --help)
    repeating_options=()
    non_repeating_options=(--app --guest --buffers-socket --remote --max-nodes)
    __porthole_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--app')
        return
        ;;
    '--guest')
        return
        ;;
    '--buffers-socket')
        return
        ;;
    '--remote')
        return
        ;;
    '--max-nodes')
        return
        ;;
    esac
}

_porthole_pipewire_import() {
    repeating_flags=()
    non_repeating_flags=(--any -h --help)
    repeating_options=()
    non_repeating_options=(--target --app --buffers-producer-socket --remote --release-timeout)
    __porthole_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--target')
        return
        ;;
    '--app')
        return
        ;;
    '--buffers-producer-socket')
        return
        ;;
    '--remote')
        return
        ;;
    '--release-timeout')
        return
        ;;
    esac
}

_porthole_bench() {
    repeating_flags=()
    non_repeating_flags=(--json --suite --copy-speed --quick -h --help)
    repeating_options=(--mode --client)
    non_repeating_options=(--compositor --size --pattern --damage --clients --frames --warmup --full-check-every --max-seconds --waypipe-compress --output --suite-waypipe-compress --porthole --guests --frame-log)
    __porthole_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--mode')
        __porthole_add_completions -W 'direct'$'\n''stream'$'\n''region'$'\n''cooperative'$'\n''waypipe'
        return
        ;;
    '--compositor')
        __porthole_add_completions -W 'sink'$'\n''weston'
        return
        ;;
    '--size')
        return
        ;;
    '--pattern')
        __porthole_add_completions -W 'full'$'\n''band'$'\n''scattered'$'\n''typing'
        return
        ;;
    '--damage')
        return
        ;;
    '--clients')
        return
        ;;
    '--client')
        return
        ;;
    '--frames')
        return
        ;;
    '--warmup')
        return
        ;;
    '--full-check-every')
        return
        ;;
    '--max-seconds')
        return
        ;;
    '--waypipe-compress')
        __porthole_add_completions -W 'none'$'\n''lz4'$'\n''zstd'
        return
        ;;
    '--output')
        return
        ;;
    '--suite-waypipe-compress')
        return
        ;;
    '--porthole')
        return
        ;;
    '--guests')
        return
        ;;
    '--frame-log')
        return
        ;;
    esac
}

_porthole_help() {
    :
}

complete -o filenames -F _porthole porthole
