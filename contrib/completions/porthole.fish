function __porthole_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __porthole_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __porthole_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __porthole_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __porthole_parse_tokens -S
    set -l unparsed_tokens (__porthole_tokens -pc)
    switch $unparsed_tokens[1]
    case 'porthole'
        __porthole_parse_subcommand 0 'h/help'
        switch $unparsed_tokens[1]
        case 'host'
            __porthole_parse_subcommand 0 'listen=' 'connect=' 'display=' 'region=' 'region-size=' 'name=' 'allow=+' 'clipboard=' 'no-title-label' 'policy=' 'buffers-socket=' 'buffers-producer-socket=' 'buffers-to-guest=+' 'shared-region=+' 'buffers-region-consumers=' 'max-guests=' 'guest-fds=' 'guest-memory=' 'total-guest-memory=' 'guest-objects=' 'receive-threads=' 'bulk-lane' 'no-bulk-lane' 'stats=' 'verbose' 'trace' 'short-slice' 'no-short-slice' 'protocol=+' 'h/help'
        case 'guest'
            __porthole_parse_subcommand -r 1 'listen=' 'connect=' 'socket=' 'no-reconnect' 'region=' 'region-fallback' 'copy-thread' 'no-copy-thread' 'copy-helper' 'no-copy-helper' 'bulk-lane' 'no-bulk-lane' 'buffers-socket=' 'buffers-consumer-socket=' 'shared-region=' 'stats=' 'verbose' 'trace' 'short-slice' 'no-short-slice' 'protocol=+' 'h/help'
        case 'share'
            __porthole_parse_subcommand 0 'h/help'
            switch $unparsed_tokens[1]
            case 'publish'
                __porthole_parse_subcommand 1 'socket=' 'app=' 'size=' 'format=' 'fps=' 'frames=' 'release-timeout=' 'property=+' 'pattern' 'region' 'shared' 'grant=+' 'export' 'h/help'
            end
        case 'buffers'
            __porthole_parse_subcommand 0 'h/help'
            switch $unparsed_tokens[1]
            case 'list'
                __porthole_parse_subcommand 0 'socket=' 'app=' 'guest=' 'import=' 'h/help'
            case 'watch'
                __porthole_parse_subcommand 0 'socket=' 'app=' 'guest=' 'import=' 'frames=' 'duration=' 'quiet' 'hold' 'h/help'
            case 'dump'
                __porthole_parse_subcommand 2 'socket=' 'app=' 'guest=' 'import=' 'h/help'
            end
        case 'pipewire'
            __porthole_parse_subcommand 0 'h/help'
            switch $unparsed_tokens[1]
            case 'export'
                __porthole_parse_subcommand 0 'app=' 'guest=' 'buffers-socket=' 'remote=' 'max-nodes=' 'h/help'
            case 'import'
                __porthole_parse_subcommand 0 'target=' 'any' 'app=' 'buffers-producer-socket=' 'remote=' 'release-timeout=' 'h/help'
            end
        case 'bench'
            __porthole_parse_subcommand 0 'mode=+' 'compositor=' 'size=' 'pattern=' 'damage=' 'clients=' 'client=+' 'frames=' 'warmup=' 'full-check-every=' 'max-seconds=' 'waypipe-compress=' 'json' 'suite' 'output=' 'suite-waypipe-compress=' 'porthole=' 'copy-speed' 'guests=' 'frame-log=' 'quick' 'h/help'
        case 'help'
            __porthole_parse_subcommand -r 1 
        end
    end
end

function __porthole_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __porthole_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __porthole_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __porthole_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__porthole_tokens -p)
    if test -z "$(__porthole_tokens -t)"
        set -l index (count (__porthole_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'porthole' -f
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole" -eq 1' -fa 'host' -d 'Serve guests: join their clients to the host compositor.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole" -eq 1' -fa 'guest' -d 'Offer a Wayland socket in the guest and carry its clients to the host.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole" -eq 1' -fa 'share' -d 'Publish buffers for programs on the host (run in the guest, next to porthole guest).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole" -eq 1' -fa 'buffers' -d 'Look at the buffers guests publish (run on the host, next to porthole host).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole" -eq 1' -fa 'pipewire' -d 'Show guest buffers to PipeWire programs (run on the host, next to porthole host).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole" -eq 1' -fa 'bench' -d 'Measure frames through porthole, waypipe and a direct connection, checking every frame.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" listen' -l 'listen' -d 'Wait for the peer on ADDR (unix:PATH, tcp:HOST:PORT or vsock:CID:PORT; CID may be \'any\').' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" connect' -l 'connect' -d 'Connect to the peer at ADDR (unix:PATH, tcp:HOST:PORT, vsock:CID:PORT, vsock-mux:VMM_SOCKET:PORT or file:DEVICE).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" display' -l 'display' -d 'Host compositor: a socket name in $XDG_RUNTIME_DIR or an absolute path (default: $WAYLAND_DISPLAY).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" region' -l 'region' -d 'Share memory with guests through FILE (created if absent, e.g. /dev/shm/porthole-region; give QEMU the same file with memory-backend-file,share=on and ivshmem-plain). Guests that map it send no pixels over the link.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" region-size' -l 'region-size' -d 'Size of a new --region file: a power of two from 1M to 1G (default 64M; an existing file keeps its size).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" name' -l 'name' -d 'The name this proxy\'s guests are shown under: window titles read \'[NAME] title\', logs and stats name it. A second guest connected at once is NAME-2. Default: guest.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host"' -l 'allow' -d 'Let guests have these capabilities, which ordinary applications do not need (comma-separated, repeatable): virtual-keyboard, virtual-pointer, data-control, input-method, screencopy, foreign-toplevel, layer-shell, session-lock, output-management, input-inhibit, shortcuts-inhibit, idle-notify. Default: none.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" clipboard' -l 'clipboard' -d 'Which way clipboard contents may cross: both, to-guest (host copies reach the guest only), from-guest or none.' -rfka 'both to-guest from-guest none'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" no-title-label' -l 'no-title-label' -d 'Show guest window titles as the guest set them, without the \'[NAME] \' label.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" policy' -l 'policy' -d 'Name guests and set their policy by who they are: a JSON file of rules matching each link\'s peer (uid:N, vsock:CID, tcp:ADDRESS or *); see the README. Replaces --name, --allow, --clipboard and --no-title-label; a guest no rule matches is refused.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" buffers-socket' -l 'buffers-socket' -d 'Where programs on this machine receive the buffers guests publish (docs/buffer-sharing.md): a socket name in $XDG_RUNTIME_DIR or an absolute path, mode 0700.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" buffers-producer-socket' -l 'buffers-producer-socket' -d 'Where programs on this machine publish buffers (the producer protocol, as in a guest): a socket name in $XDG_RUNTIME_DIR or an absolute path, mode 0700. Their buffers reach host consumers, and consumers in guests that --buffers-to-guest names.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host"' -l 'buffers-to-guest' -d 'Applications this machine\'s producers publish that consumers in guests may see: APP or APP@GUEST, comma-separated, repeatable (\'*\' for every application). Default: none; guests still see buffers other guests grant them.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host"' -l 'shared-region' -d 'A sharing region of several guests: FILE (created if absent, 64M; give each of their VMs the same file behind an ivshmem device) mapped by the guests the host names GUEST,GUEST... (porthole guest --shared-region). Buffers their producers allocate there (share publish --shared) and grant one another are read in place, not copied. Repeatable.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" buffers-region-consumers' -l 'buffers-region-consumers' -d 'Users whose buffer consumers get a guest\'s region buffers as the region itself, read-only (zero copy; they can read every buffer of that guest): comma-separated uids, or \'none\'. Others get a copy of each buffer. Default: this user.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" max-guests' -l 'max-guests' -d 'Most guests (links) served at once; more are turned away with a reason. Default: 16.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" guest-fds' -l 'guest-fds' -d 'File descriptors one guest may make the host hold: compositor connections, shared-memory files, pipes. Default: 2048.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" guest-memory' -l 'guest-memory' -d 'Shared memory one guest may make the host hold (its clients\' pools). Default: 2G.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" total-guest-memory' -l 'total-guest-memory' -d 'Shared memory all guests together may make the host hold. Default: half the machine\'s memory.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" guest-objects' -l 'guest-objects' -d 'Wayland objects one guest may have alive on all its clients together. Default: 65536.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" receive-threads' -l 'receive-threads' -d 'Threads that receive guests\' long pixel updates straight into place, shared by all guests, so the loop stays free for every window\'s small messages (0: the loop receives everything). Default: 2.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" bulk-lane' -l 'bulk-lane' -d 'Let each guest open a bulk lane: a second connection its windows that send megabytes move to, so another window\'s commit is not behind their bytes (--no-bulk-lane: one connection per guest).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" no-bulk-lane' -l 'no-bulk-lane' -d 'Let each guest open a bulk lane: a second connection its windows that send megabytes move to, so another window\'s commit is not behind their bytes (--no-bulk-lane: one connection per guest).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" stats' -l 'stats' -d 'Write counters as JSON to FILE every second and at exit.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" verbose' -l 'verbose' -d 'Log every channel and resource event.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" trace' -l 'trace' -d 'Print every Wayland message forwarded (interface, message, argument names and values) and every link frame, like WAYLAND_DEBUG; also on with PORTHOLE_TRACE=1.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" short-slice' -l 'short-slice' -d 'Ask the kernel for 0.1 ms time slices for the proxy\'s loop (Linux 6.12+), so that a window\'s commit wakes it ahead of busy programs even while it moves another window\'s frames (--no-short-slice: the kernel\'s default).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" no-short-slice' -l 'no-short-slice' -d 'Ask the kernel for 0.1 ms time slices for the proxy\'s loop (Linux 6.12+), so that a window\'s commit wakes it ahead of busy programs even while it moves another window\'s frames (--no-short-slice: the kernel\'s default).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host"' -l 'protocol' -d 'Also understand the Wayland protocol described in FILE.xml (repeatable; a later definition of an interface wins).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole host" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" listen' -l 'listen' -d 'Wait for the peer on ADDR (unix:PATH, tcp:HOST:PORT or vsock:CID:PORT; CID may be \'any\').' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" connect' -l 'connect' -d 'Connect to the peer at ADDR (unix:PATH, tcp:HOST:PORT, vsock:CID:PORT, vsock-mux:VMM_SOCKET:PORT or file:DEVICE).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" socket' -l 'socket' -d 'Socket name in $XDG_RUNTIME_DIR (or absolute path) that clients use.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" no-reconnect' -l 'no-reconnect' -d 'Exit (status 1) when the link ends or cannot be made, instead of getting a new one.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" region' -l 'region' -d 'Memory shared with the host: FILE (the host\'s --region file, same machine), \'pci\' (the VM\'s ivshmem device) or \'pci:ADDR\' (one device, e.g. pci:0000:00:04.0). Pixels are then written there instead of sent over the link.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" region-fallback' -l 'region-fallback' -d 'If the --region cannot be opened, warn and copy buffers over the link instead of exiting.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" copy-thread' -l 'copy-thread' -d 'Copy frames over 2 MiB into the --region, and those of a stream window on the bulk lane into its mirror, on a thread of their own, so the proxy\'s loop stays free for other windows\' commits, and fault a stream window\'s mirror in on another before its first copy (--no-copy-thread: on the loop, 2 MiB a turn).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" no-copy-thread' -l 'no-copy-thread' -d 'Copy frames over 2 MiB into the --region, and those of a stream window on the bulk lane into its mirror, on a thread of their own, so the proxy\'s loop stays free for other windows\' commits, and fault a stream window\'s mirror in on another before its first copy (--no-copy-thread: on the loop, 2 MiB a turn).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" copy-helper' -l 'copy-helper' -d 'On a machine with two CPUs or more, a second thread takes a share of a region copy of 8 MiB or more while no other window has drawn within a second, so a lone 4K window\'s frame is copied by two cores at once (--no-copy-helper: the copy thread alone, leaving the other core to other programs).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" no-copy-helper' -l 'no-copy-helper' -d 'On a machine with two CPUs or more, a second thread takes a share of a region copy of 8 MiB or more while no other window has drawn within a second, so a lone 4K window\'s frame is copied by two cores at once (--no-copy-helper: the copy thread alone, leaving the other core to other programs).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" bulk-lane' -l 'bulk-lane' -d 'Open a bulk lane when the host offers one (unix and vsock links this guest dials): windows that send megabytes move to a second connection written by a thread of its own, so a video\'s bytes do not hold another window\'s commit (--no-bulk-lane: one connection).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" no-bulk-lane' -l 'no-bulk-lane' -d 'Open a bulk lane when the host offers one (unix and vsock links this guest dials): windows that send megabytes move to a second connection written by a thread of its own, so a video\'s bytes do not hold another window\'s commit (--no-bulk-lane: one connection).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" buffers-socket' -l 'buffers-socket' -d 'Where programs in the guest publish buffers for the host (docs/buffer-sharing.md): a socket name in $XDG_RUNTIME_DIR or an absolute path, mode 0700; it appears once the link is up.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" buffers-consumer-socket' -l 'buffers-consumer-socket' -d 'Where programs in the guest receive buffers the host lets this guest see (granted by other guests, or published on the host): a socket name in $XDG_RUNTIME_DIR or an absolute path, mode 0700; it appears once the link is up.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" shared-region' -l 'shared-region' -d 'A sharing region this guest maps with others, declared on the host (porthole host --shared-region): FILE, \'pci\' or \'pci:ADDR\' as for --region. Producers allocate there with share publish --shared, and buffers other guests place there reach this guest\'s consumers without a copy.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" stats' -l 'stats' -d 'Write counters as JSON to FILE every second and at exit.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" verbose' -l 'verbose' -d 'Log every channel and resource event.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" trace' -l 'trace' -d 'Print every Wayland message forwarded (interface, message, argument names and values) and every link frame, like WAYLAND_DEBUG; also on with PORTHOLE_TRACE=1.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" short-slice' -l 'short-slice' -d 'Ask the kernel for 0.1 ms time slices for the proxy\'s loop (Linux 6.12+), so that a window\'s commit wakes it ahead of busy programs even while it moves another window\'s frames (--no-short-slice: the kernel\'s default).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" no-short-slice' -l 'no-short-slice' -d 'Ask the kernel for 0.1 ms time slices for the proxy\'s loop (Linux 6.12+), so that a window\'s commit wakes it ahead of busy programs even while it moves another window\'s frames (--no-short-slice: the kernel\'s default).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest"' -l 'protocol' -d 'Also understand the Wayland protocol described in FILE.xml (repeatable; a later definition of an interface wins).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole guest" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole share" -eq 1' -fa 'publish' -d 'Publish one buffer and present frames into it.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" socket' -l 'socket' -d 'The producer socket of porthole guest (or of porthole host, --buffers-producer-socket): a name in $XDG_RUNTIME_DIR or an absolute path.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" app' -l 'app' -d 'The application name consumers subscribe to (1 to 256 bytes, not \'*\').' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" size' -l 'size' -d 'Picture size in pixels.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" format' -l 'format' -d 'Pixel format: XRGB8888, ARGB8888, XBGR8888, ABGR8888.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" fps' -l 'fps' -d 'Frames per second at most (0: as fast as consumers release).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" frames' -l 'frames' -d 'Stop after N frames (default: at the end of FILE, never with --pattern).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" release-timeout' -l 'release-timeout' -d 'Wait at most SECONDS for every consumer to release a frame.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish"' -l 'property' -d 'Another property consumers get (repeatable).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" pattern' -l 'pattern' -d 'Draw the test pattern instead of reading frames.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" region' -l 'region' -d 'Allocate the buffer in the guest\'s shared region (zero copy; the link must have a region). The producer then sees the whole region, every buffer this guest keeps there.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" shared' -l 'shared' -d 'Allocate the buffer in the sharing region this guest maps with others (porthole guest --shared-region): a guest it is granted to that maps the region too reads it in place, with no copy.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish"' -l 'grant' -d 'Grant the buffer to the guest the host calls GUEST (its consumers import it by the handle printed on stdout, \'handle HEX\'); repeatable.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" export' -l 'export' -d 'Export the buffer for the host\'s consumers and print the handle on stdout (\'handle HEX\').'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole share publish" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole buffers" -eq 1' -fa 'list' -d 'Print the buffers published now, one per line.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole buffers" -eq 1' -fa 'watch' -d 'Follow updates: check each one\'s stamp and checksum, release it, print rates and latency.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole buffers" -eq 1' -fa 'dump' -d 'Write a buffer\'s pixels (XRGB8888 or ARGB8888) to a PNG file.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers list" socket' -l 'socket' -d 'The consumer socket of porthole host (or, in a guest, of porthole guest, --buffers-consumer-socket): a name in $XDG_RUNTIME_DIR or an absolute path.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers list" app' -l 'app' -d 'Only buffers of this application (\'*\': every one).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers list" guest' -l 'guest' -d 'Only buffers of this guest (the name porthole host gave it).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers list" import' -l 'import' -d 'Instead of subscribing, import the one buffer of this reference: its handle as 32 hex digits (porthole share publish --grant or --export prints it).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers watch" socket' -l 'socket' -d 'The consumer socket of porthole host (or, in a guest, of porthole guest, --buffers-consumer-socket): a name in $XDG_RUNTIME_DIR or an absolute path.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers watch" app' -l 'app' -d 'Only buffers of this application (\'*\': every one).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers watch" guest' -l 'guest' -d 'Only buffers of this guest (the name porthole host gave it).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers watch" import' -l 'import' -d 'Instead of subscribing, import the one buffer of this reference: its handle as 32 hex digits (porthole share publish --grant or --export prints it).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers watch" frames' -l 'frames' -d 'Stop after N updates.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers watch" duration' -l 'duration' -d 'Stop after SECONDS.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers watch" quiet' -l 'quiet' -d 'Print only the summary, not a line per second.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers watch" hold' -l 'hold' -d 'Never release updates (to see a producer wait, and this consumer evicted after the host\'s timeout).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers watch" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers dump" socket' -l 'socket' -d 'The consumer socket of porthole host (or, in a guest, of porthole guest, --buffers-consumer-socket): a name in $XDG_RUNTIME_DIR or an absolute path.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers dump" app' -l 'app' -d 'Only buffers of this application (\'*\': every one).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers dump" guest' -l 'guest' -d 'Only buffers of this guest (the name porthole host gave it).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers dump" import' -l 'import' -d 'Instead of subscribing, import the one buffer of this reference: its handle as 32 hex digits (porthole share publish --grant or --export prints it).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole buffers dump" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole pipewire" -eq 1' -fa 'export' -d 'Make every buffer of one application a PipeWire Video/Source node.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_positional "porthole pipewire" -eq 1' -fa 'import' -d 'Publish a PipeWire video node\'s frames as a buffer producer (run on the host, next to porthole host).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire export" app' -l 'app' -d 'The application whose buffers to export (1 to 256 bytes; \'*\': every one).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire export" guest' -l 'guest' -d 'Only buffers of this guest (the name porthole host gave it).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire export" buffers-socket' -l 'buffers-socket' -d 'The consumer socket of porthole host: a name in $XDG_RUNTIME_DIR or an absolute path.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire export" remote' -l 'remote' -d 'The PipeWire daemon to connect to (default: $PIPEWIRE_REMOTE or pipewire-0).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire export" max-nodes' -l 'max-nodes' -d 'Most nodes at once; further buffers are left out.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire export" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire import" target' -l 'target' -d 'The PipeWire node to take frames from (node.name or object.serial).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire import" any' -l 'any' -d 'Take frames from whichever Video/Source the session manager links.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire import" app' -l 'app' -d 'The application name the frames are published under (1 to 256 bytes, not \'*\').' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire import" buffers-producer-socket' -l 'buffers-producer-socket' -d 'The producer socket of porthole host: a name in $XDG_RUNTIME_DIR or an absolute path.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire import" remote' -l 'remote' -d 'The PipeWire daemon to connect to (default: $PIPEWIRE_REMOTE or pipewire-0).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire import" release-timeout' -l 'release-timeout' -d 'Wait at most SECONDS for every consumer to release a frame.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole pipewire import" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench"' -l 'mode' -d 'How frames travel: direct, stream, region, cooperative or waypipe. Repeat to compare several in one run.' -rfka 'direct stream region cooperative waypipe'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" compositor' -l 'compositor' -d 'Who takes the frames: sink (checks pixels, times arrival) or weston (headless; frames counted only).' -rfka 'sink weston'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" size' -l 'size' -d 'Surface size in pixels.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" pattern' -l 'pattern' -d 'Damage layout: full, band (a moving band of rows), scattered (small rectangles) or typing (three character cells a frame).' -rfka 'full band scattered typing'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" damage' -l 'damage' -d 'Share of the surface each frame repaints (default: 1 full, 0.25 band, 0.02 scattered).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" clients' -l 'clients' -d 'Bench clients drawing at once, each in its own window.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench"' -l 'client' -d 'A window of a mixed run through one proxy pair, e.g. 3840x2160:full, or 3840x2160:full@60 for a window drawing at most 60 frames a second (a video); repeat for each window (replaces --size, --pattern and --clients). Each client also runs alone in the same mode, for comparison; the run stops when one client has drawn --frames.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" frames' -l 'frames' -d 'Measured frames per client (default 120; with --client 100000, bounded by --max-seconds).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" warmup' -l 'warmup' -d 'Frames per client drawn before measuring (the first repaints everything).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" full-check-every' -l 'full-check-every' -d 'The sink compares every row of every Nth frame (frame 0 included).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" max-seconds' -l 'max-seconds' -d 'Stop measuring after SECONDS even if frames remain (default with --client: 2).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" waypipe-compress' -l 'waypipe-compress' -d 'waypipe\'s --compress for the waypipe mode.' -rfka 'none lz4 zstd'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" json' -l 'json' -d 'Print one JSON object per mode (one line each) instead of a table.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" suite' -l 'suite' -d 'Run the whole matrix (3 sizes x 3 damage layouts x 1 and 8 clients, every available mode) and write a report and plot.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" output' -l 'output' -d 'Where --suite writes benchmarks.md, benchmarks.png and benchmarks.json.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" suite-waypipe-compress' -l 'suite-waypipe-compress' -d '--suite: the waypipe compressions to run (comma-separated).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" porthole' -l 'porthole' -d 'The porthole executable the proxies run (default: this one).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" copy-speed' -l 'copy-speed' -d 'Only time memcpy of one 3840x2160 frame (what --suite prints beside the region results).'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" guests' -l 'guests' -d 'Stream mode: spread the clients over N guest proxies (client i on guest i mod N), each its own link to the one host proxy, as N VMs on one host. Other modes run as usual.' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" frame-log' -l 'frame-log' -d 'Append every measured frame (mode, window, frame, commit and arrival in CLOCK_MONOTONIC ns, latency) to FILE as CSV, to find where a tail comes from (sink compositor, not with --suite).' -rfka ''
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" quick' -l 'quick' -d '--suite: a short smoke run (small sizes, few frames); nothing is written unless --output is given.'
complete -c 'porthole' -n '__porthole_should_offer_completions_for_flags_or_options "porthole bench" h help' -s 'h' -l 'help' -d 'Show help information.'
