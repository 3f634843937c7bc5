# A hand-written profile in the styles people use: legacy includes,
# unquoted paths with alternations, multi-line rules, hats and children.
#include <tunables/global>

@{APPDIR}=/opt/app /srv/app
@{APPDIR}+=/usr/local/app

/usr/bin/webapp flags=(complain) {
  #include <abstractions/base>
  include <abstractions/nameservice>

  capability net_bind_service,
  capability setuid setgid,
  network inet stream,
  network inet6 dgram,
  deny network raw,

  @{APPDIR}/** r,
  owner @{APPDIR}/data/{,**} rwk,
  /usr/bin/webapp mr,
  /{usr/,}bin/{ba,da,}sh ix,
  audit deny /etc/shadow rwl,   # never
  deny /usr/bin/apt x,
  /usr/bin/helper Px -> webapp-helper,
  rw "/var/log/web app/*.log",

  signal (receive) set=(term, kill, hup)
         peer=unconfined,
  ptrace (read) peer=@{profile_name},
  unix (connect, send, receive) type=stream peer=(addr="@/tmp/.X11-unix/X0"),
  dbus send bus=system path=/org/freedesktop/DBus
       interface=org.freedesktop.DBus member={Hello,AddMatch},
  mount fstype=tmpfs options=(rw, nosuid) tmpfs -> /run/webapp/,
  umount /run/webapp/,
  pivot_root oldroot=/old/ /new/,
  change_profile -> webapp-helper,

  ^reload {
    /usr/bin/kill ix,
  }

  profile webapp-helper {
    include <abstractions/base>
    /usr/bin/helper mr,
  }
}
