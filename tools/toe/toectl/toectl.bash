# SPDX-License-Identifier: GPL-2.0
# bash completion for toectl(8)

_toectl_devs()
{
	ls /sys/class/toe 2> /dev/null
}

_toectl()
{
	local cur prev words cword i obj= cmd=

	_init_completion || return
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-*) ;;
		*)
			if [ -z "$obj" ]; then
				obj=${words[i]}
			elif [ -z "$cmd" ]; then
				cmd=${words[i]}
			fi
			;;
		esac
	done
	if [ -z "$obj" ]; then
		COMPREPLY=($(compgen -W "-j -p dev conn policy monitor" -- "$cur"))
		return
	fi
	case $prev in
	dev)
		if [ "$obj" = conn ] || [ -n "$cmd" ]; then
			COMPREPLY=($(compgen -W "$(_toectl_devs)" -- "$cur"))
			return
		fi
		;;
	sport | dport | count | min_bytes | low_rate | low_rate_secs | index | \
	local | remote | lport | rport | uid | id)
		return
		;;
	family)
		COMPREPLY=($(compgen -W "ipv4 ipv6" -- "$cur"))
		return
		;;
	cgroup)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	dir)
		COMPREPLY=($(compgen -W "active passive" -- "$cur"))
		return
		;;
	action)
		COMPREPLY=($(compgen -W "offload skip" -- "$cur"))
		return
		;;
	enabled | auto)
		COMPREPLY=($(compgen -W "on off" -- "$cur"))
		return
		;;
	families)
		COMPREPLY=($(compgen -W "ipv4 ipv6 ipv4,ipv6 none" -- "$cur"))
		return
		;;
	ulp_access)
		COMPREPLY=($(compgen -W "admin all none" -- "$cur"))
		return
		;;
	esac
	case $obj:$cmd in
	dev:)
		COMPREPLY=($(compgen -W "show set" -- "$cur")) ;;
	dev:show)
		COMPREPLY=($(compgen -W "$(_toectl_devs)" -- "$cur")) ;;
	dev:set)
		if [ "$prev" = set ]; then
			COMPREPLY=($(compgen -W "$(_toectl_devs)" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "enabled auto min_bytes low_rate low_rate_secs families ulp_access" -- "$cur"))
		fi
		;;
	conn:)
		COMPREPLY=($(compgen -W "show handback" -- "$cur")) ;;
	conn:*)
		COMPREPLY=($(compgen -W "dev local remote sport dport" -- "$cur")) ;;
	policy:)
		COMPREPLY=($(compgen -W "show add del" -- "$cur")) ;;
	policy:add)
		COMPREPLY=($(compgen -W "dev index family local remote lport rport dir uid cgroup action min_bytes" -- "$cur")) ;;
	policy:*)
		COMPREPLY=($(compgen -W "dev id" -- "$cur")) ;;
	monitor:*)
		COMPREPLY=($(compgen -W "count" -- "$cur")) ;;
	esac
} &&
	complete -F _toectl toectl
