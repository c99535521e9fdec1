#include "textflag.h"

// nsenterEntry is the process entry point (linked with -E main.nsenterEntry). It runs
// before the Go runtime starts any thread, the only moment a process may join a user
// namespace (setns refuses multi-threaded callers). Two command lines use it:
//
//	berth-runtime exec-init USERNS_FD
//	    join the user namespace open at USERNS_FD (the other namespaces were joined
//	    by the parent before forking us)
//	berth-runtime init USERNS_FD CLONE_FLAGS
//	    join the user namespace, unshare CLONE_FLAGS there (so the new namespaces are
//	    owned by it), and with CLONE_NEWPID fork: the child goes on as the container's
//	    pid 1, this process exits (the parent, a child subreaper, inherits the child)
//
// Results go to main.usernsResult, main.unshareResult and main.forkResult (0 or a
// negated errno; 1 when not tried) for the Go code to report. Any other command line
// goes straight to the Go runtime.
TEXT ·nsenterEntry(SB),NOSPLIT|NOFRAME,$0
	MOVQ	0(SP), AX // argc
	CMPQ	AX, $3
	JLT	done
	MOVQ	16(SP), SI // argv[1]
	MOVQ	$0x696e692d63657865, BX // "exec-ini", little-endian
	CMPQ	0(SI), BX
	JNE	tryinit
	CMPB	8(SI), $0x74 // 't'
	JNE	done
	CMPB	9(SI), $0
	JNE	done
	MOVQ	24(SP), SI
	CALL	·parseDec(SB)
	TESTQ	DI, DI
	JS	done
	MOVQ	$308, AX // setns(fd, CLONE_NEWUSER)
	MOVQ	$0x10000000, SI
	SYSCALL
	MOVQ	AX, ·usernsResult(SB)
	JMP	done

tryinit:
	CMPL	0(SI), $0x74696e69 // "init"
	JNE	done
	CMPB	4(SI), $0
	JNE	done
	CMPQ	AX, $4
	JLT	done
	MOVQ	24(SP), SI
	CALL	·parseDec(SB)
	TESTQ	DI, DI
	JS	done
	MOVQ	DI, R12 // user namespace fd
	MOVQ	32(SP), SI
	CALL	·parseDec(SB)
	TESTQ	DI, DI
	JS	done
	MOVQ	DI, R13 // clone flags

	MOVQ	R12, DI
	MOVQ	$0x10000000, SI
	MOVQ	$308, AX // setns(fd, CLONE_NEWUSER)
	SYSCALL
	MOVQ	AX, ·usernsResult(SB)
	TESTQ	AX, AX
	JNE	done
	MOVQ	R13, DI
	MOVQ	$272, AX // unshare(flags)
	SYSCALL
	MOVQ	AX, ·unshareResult(SB)
	TESTQ	AX, AX
	JNE	done
	TESTQ	$0x20000000, R13 // CLONE_NEWPID: only children enter it
	JZ	done
	MOVQ	$56, AX // clone(SIGCHLD, 0, 0, 0, 0): a plain fork
	MOVQ	$17, DI
	XORQ	SI, SI
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	SYSCALL
	TESTQ	AX, AX
	JEQ	done // the child: on to the Go runtime as the container's init
	JS	forkfailed
	MOVQ	$231, AX // exit_group(0): this process's part is done
	XORQ	DI, DI
	SYSCALL
forkfailed:
	MOVQ	AX, ·forkResult(SB)
done:
	JMP	_rt0_amd64_linux(SB)

// parseDec parses the NUL-terminated decimal at SI into DI; DI is -1 if it is not one.
TEXT ·parseDec(SB),NOSPLIT|NOFRAME,$0
	XORQ	DI, DI
	CMPB	0(SI), $0
	JEQ	bad
digit:
	MOVBQZX	0(SI), BX
	TESTQ	BX, BX
	JZ	ok
	SUBQ	$0x30, BX
	CMPQ	BX, $9
	JHI	bad
	IMULQ	$10, DI
	ADDQ	BX, DI
	INCQ	SI
	JMP	digit
bad:
	MOVQ	$-1, DI
ok:
	RET
